//! COQL (`POST /crm/v8/coql`) over real HTTP: filtering, ordering, paging, lookup dot
//! fields, aggregates, 204, every error code, hostile input, credits, and the answers'
//! fit to Zoho's `coql.json` (when `ZOHO_OAS_DIR` is set).

mod support;

use serde_json::{Value, json};
use zoho_emulator::{Emulator, EmulatorConfig, testkit};

struct Crm {
    emu: Emulator,
    http: reqwest::Client,
    auth: String,
}

impl Crm {
    /// An emulator whose clock starts at 2024-01-01T00:00:00Z.
    async fn start() -> Crm {
        let emu = Emulator::start(EmulatorConfig::unlimited(), 0).await.unwrap();
        emu.state().clock.set("2024-01-01T00:00:00Z".parse().unwrap());
        let http = reqwest::Client::new();
        let (_, token) = testkit::login(&http, &emu.url()).await.unwrap();
        Crm { emu, http, auth: testkit::auth_header(&token) }
    }

    async fn raw(&self, body: &str) -> (u16, String) {
        let resp = self
            .http
            .post(format!("{}/crm/v8/coql", self.emu.url()))
            .header("Authorization", &self.auth)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Runs a query; the body is `Null` when empty.
    async fn coql(&self, query: &str) -> (u16, Value) {
        let (status, text) = self.raw(&json!({"select_query": query}).to_string()).await;
        let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    /// Runs a query that must succeed and returns `data`.
    async fn rows(&self, query: &str) -> Vec<Value> {
        let (status, body) = self.coql(query).await;
        assert_eq!(status, 200, "{query}: {body}");
        body["data"].as_array().cloned().unwrap_or_default()
    }

    /// Runs a query and returns one field of every row.
    async fn column(&self, query: &str, field: &str) -> Vec<Value> {
        self.rows(query).await.iter().map(|r| r[field].clone()).collect()
    }

    async fn insert(&self, module: &str, records: Value) -> Vec<String> {
        let resp = self
            .http
            .post(format!("{}/crm/v8/{module}", self.emu.url()))
            .header("Authorization", &self.auth)
            .json(&json!({"data": records}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 201, "{body}");
        body["data"].as_array().unwrap().iter().map(|e| e["details"]["id"].as_str().unwrap().to_string()).collect()
    }

    fn credits_used(&self) -> u64 {
        let state = self.emu.state();
        state.limiter.usage(state.clock.now_ms()).crm_credits_used
    }
}

fn names(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| r.as_str().unwrap_or("<none>").to_string()).collect()
}

/// Three accounts and twelve deals `D00`..`D11`, one clock minute apart:
/// Amount = i*100 + 0.5, Stage alternating Qualification / Closed Won,
/// Closing_Date 2024-02-(i+1), account i % 3, and D11 has no Amount and no account.
async fn world(crm: &Crm) -> (Vec<String>, Vec<String>) {
    let accounts = crm.insert("Accounts", json!([{"Account_Name": "Acme Labs"}, {"Account_Name": "Zylker"}, {"Account_Name": "O'Brien Ltd"}])).await;
    let mut deals = Vec::new();
    for i in 0..12usize {
        let mut deal = json!({
            "Deal_Name": format!("D{i:02}"),
            "Stage": if i % 2 == 0 { "Qualification" } else { "Closed Won" },
            "Closing_Date": format!("2024-02-{:02}", i + 1),
        });
        if i < 11 {
            deal["Amount"] = json!(i as f64 * 100.0 + 0.5);
            deal["Account_Name"] = json!({"id": accounts[i % 3]});
        }
        deals.extend(crm.insert("Deals", json!([deal])).await);
        crm.emu.state().clock.advance_ms(60_000);
    }
    (accounts, deals)
}

#[tokio::test]
async fn where_order_limit_and_offset() {
    let crm = Crm::start().await;
    let (_, deals) = world(&crm).await;

    // Default order is by id; every row carries `id` plus the selected fields.
    let rows = crm.rows("select Deal_Name from Deals").await;
    assert_eq!(rows.len(), 12);
    assert_eq!(rows[0], json!({"id": deals[0], "Deal_Name": "D00"}));

    let q = "select Deal_Name, Amount from Deals where Amount >= 500 order by Amount desc limit 3";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D10", "D09", "D08"]);
    let q = "SELECT Deal_Name FROM Deals WHERE Stage = 'closed won' AND Amount < 600 ORDER BY Deal_Name";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D01", "D03", "D05"], "keywords and = on text are case-insensitive");
    let q = "select Deal_Name from Deals where (Stage = 'Qualification' and Amount > 800) or Deal_Name in ('D01', 'D03')";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D01", "D03", "D08", "D10"]);
    let q = "select Deal_Name from Deals where Deal_Name not in ('D00','D01') and Amount between 100 and 400.5";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D02", "D03", "D04"]);
    let q = "select Deal_Name from Deals where Amount is null";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D11"]);
    let q = "select Deal_Name from Deals where Amount is not null and Amount != 0.5 and Amount <> 100.5 limit 2";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D02", "D03"]);
    let q = "select Deal_Name from Deals where Deal_Name like '%1' or Deal_Name like 'D0%' and Deal_Name not like '%0%'";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D01", "D11"]);
    let q = "select Deal_Name from Deals where Closing_Date between '2024-02-03' and '2024-02-04'";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D02", "D03"]);

    // Date-times compare as instants whatever the offset: D00 was written at 00:00Z, D01 at 00:01Z...
    let q = "select Deal_Name from Deals where Created_Time >= '2024-01-01T05:40:00+05:30' order by Created_Time desc";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D11", "D10"]);
    let q = "select Deal_Name from Deals where Modified_Time < '2024-01-01T00:01:00Z'";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D00"]);

    // Multi-key ordering: Stage asc, then Amount desc; nulls sort first ascending.
    let q = "select Deal_Name from Deals order by Stage, Amount desc limit 4";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D09", "D07", "D05", "D03"]);
    let q = "select Deal_Name from Deals order by Amount limit 1";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D11"]);

    // Paging: limit O, N  ==  limit N offset O; more_records tells whether rows remain.
    let (status, page) = crm.coql("select Deal_Name from Deals order by Deal_Name limit 4, 5").await;
    assert_eq!(status, 200);
    assert_eq!(names(&page["data"].as_array().unwrap().iter().map(|r| r["Deal_Name"].clone()).collect::<Vec<_>>()), ["D04", "D05", "D06", "D07", "D08"]);
    assert_eq!(page["info"], json!({"count": 5, "more_records": true}));
    let (_, same) = crm.coql("select Deal_Name from Deals order by Deal_Name limit 5 offset 4").await;
    assert_eq!(same, page);
    let (_, last) = crm.coql("select Deal_Name from Deals order by Deal_Name limit 10, 5").await;
    assert_eq!(last["info"], json!({"count": 2, "more_records": false}));
    let (_, exact) = crm.coql("select Deal_Name from Deals limit 12").await;
    assert_eq!(exact["info"], json!({"count": 12, "more_records": false}));
}

#[tokio::test]
async fn no_rows_is_204_with_an_empty_body() {
    let crm = Crm::start().await;
    let (status, body) = crm.raw(&json!({"select_query": "select Deal_Name from Deals"}).to_string()).await;
    assert_eq!((status, body.as_str()), (204, ""), "no records at all");
    world(&crm).await;
    let (status, body) = crm.raw(&json!({"select_query": "select id from Deals where Deal_Name = 'nope'"}).to_string()).await;
    assert_eq!((status, body.as_str()), (204, ""));
    let (status, _) = crm.coql("select id from Deals limit 50, 10").await;
    assert_eq!(status, 204, "an offset past the end");
}

#[tokio::test]
async fn lookup_and_owner_dot_fields() {
    let crm = Crm::start().await;
    let (accounts, deals) = world(&crm).await;
    let owner = crm.emu.state().world().crm.current_user();

    let q = "select Deal_Name, Account_Name, Account_Name.Account_Name, Owner.first_name, Account_Name.Owner.email \
             from Deals where Account_Name.Account_Name = 'o\\'brien ltd' order by Deal_Name";
    let rows = crm.rows(q).await;
    assert_eq!(names(&rows.iter().map(|r| r["Deal_Name"].clone()).collect::<Vec<_>>()), ["D02", "D05", "D08"]);
    assert_eq!(rows[0]["Account_Name"], json!({"id": accounts[2]}), "a lookup column is its id");
    assert_eq!(rows[0]["Account_Name.Account_Name"], "O'Brien Ltd");
    assert_eq!(rows[0]["Owner.first_name"], json!(owner.first_name));
    assert_eq!(rows[0]["Account_Name.Owner.email"], json!(owner.email));

    // A deal without an account: the dot column is null, and the lookup is filterable by id.
    let rows = crm.rows("select Account_Name.Account_Name from Deals where Account_Name is null").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["Account_Name.Account_Name"], Value::Null);
    let q = format!("select Deal_Name from Deals where Account_Name = '{}' order by Deal_Name limit 2", accounts[1]);
    assert_eq!(names(&crm.column(&q, "Deal_Name").await), ["D01", "D04"]);
    let q = "select Deal_Name from Deals where Account_Name.Account_Name like 'acme%' order by Account_Name.Account_Name, Deal_Name desc limit 1";
    assert_eq!(names(&crm.column(q, "Deal_Name").await), ["D09"]);
    // Owner and id compare by id, written as a number or a string.
    assert_eq!(crm.rows(&format!("select id from Deals where Owner = '{}'", owner.id)).await.len(), 12);
    assert_eq!(crm.rows(&format!("select id from Deals where Owner.id = {} and Owner.last_name = '{}'", owner.id, owner.last_name)).await.len(), 12);
    let q = format!("select Deal_Name from Deals where id = {} or id in ('{}')", deals[3], deals[7]);
    assert_eq!(names(&crm.column(&q, "Deal_Name").await), ["D03", "D07"]);
    // Owner as a column keeps the user object Zoho's record schema describes.
    let rows = crm.rows("select Owner from Deals limit 1").await;
    assert_eq!(rows[0]["Owner"]["id"], json!(owner.id));
    assert!(rows[0]["Owner"]["name"].is_string());
}

#[tokio::test]
async fn aggregates_use_exact_decimals() {
    let crm = Crm::start().await;
    world(&crm).await;
    let rows = crm.rows("select COUNT(*), count(Amount), SUM(Amount), MIN(Amount), MAX(Amount), AVG(Amount) from Deals where Amount is not null").await;
    assert_eq!(rows, [json!({"COUNT(*)": 11, "COUNT(Amount)": 11, "SUM(Amount)": 5505.5, "MIN(Amount)": 0.5, "MAX(Amount)": 1000.5, "AVG(Amount)": 500.5})]);
    let rows = crm.rows("select count(id) as n, max(Closing_Date) as last from Deals where Stage = 'Closed Won'").await;
    assert_eq!(rows, [json!({"n": 6, "last": "2024-02-12"})]);

    // 0.1 + 0.2 is exactly 0.3 (no floating point on the way).
    crm.insert("Products", json!([{"Product_Name": "a", "Unit_Price": 0.1}, {"Product_Name": "b", "Unit_Price": 0.2}])).await;
    let (_, body) = crm.coql("select sum(Unit_Price) from Products").await;
    assert_eq!(body["data"][0]["SUM(Unit_Price)"].to_string(), "0.3");
    assert_eq!(body["info"], json!({"count": 1, "more_records": false}));
    let rows = crm.rows("select count(*), sum(Unit_Price) from Products where Product_Name = 'zzz'").await;
    assert_eq!(rows, [json!({"COUNT(*)": 0, "SUM(Unit_Price)": 0})]);
}

async fn expect_error(crm: &Crm, query: &str, status: u16, code: &str) -> Value {
    let (got, body) = crm.coql(query).await;
    assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{query}: {body}");
    assert_eq!(body["status"], "error");
    assert!(body["message"].is_string() && body["details"].is_object(), "{body}");
    body
}

#[tokio::test]
async fn errors_have_zoho_codes_and_details() {
    let crm = Crm::start().await;
    world(&crm).await;

    // The body itself.
    for body in [json!({}), json!({"select_query": ""}), json!({"select_query": "   "}), json!({"select_query": 5})] {
        let (status, text) = crm.raw(&body.to_string()).await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((status, v["code"].as_str()), (400, Some("MANDATORY_NOT_FOUND")), "{body}");
        assert_eq!(v["details"]["api_name"], "select_query");
    }
    for bad in ["{", "not json", "[1]", ""] {
        let (status, text) = crm.raw(bad).await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((status, v["code"].as_str()), (400, Some("INVALID_DATA")), "{bad:?}");
    }

    let resp = crm.http.get(format!("{}/crm/v8/coql", crm.emu.url())).header("Authorization", &crm.auth).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "INVALID_REQUEST_METHOD", "COQL is POST only");

    let e = expect_error(&crm, "select Deal_Name from Deals wher Stage = 'x'", 400, "SYNTAX_ERROR").await;
    assert_eq!(e["details"], json!({"near": "wher", "line": 1, "column": 28}));
    assert_eq!(e["message"], "error occured while parsing the query");

    let e = expect_error(&crm, "select Nope from Deals", 400, "INVALID_QUERY").await;
    assert_eq!(e["details"], json!({"column_name": "Nope", "clause": "select"}));
    assert_eq!(e["message"], "column given seems to be invalid");
    let e = expect_error(&crm, "select id from Deals where Account_Name.Nope = 'x'", 400, "INVALID_QUERY").await;
    assert_eq!(e["details"]["column_name"], "Account_Name.Nope");
    let e = expect_error(&crm, "select id from Deals order by Nope", 400, "INVALID_QUERY").await;
    assert_eq!(e["details"]["clause"], "order by");
    let e = expect_error(&crm, "select id from Deals where Amount = 'lots'", 400, "INVALID_QUERY").await;
    assert_eq!(e["message"], "value given seems to be invalid for the column");
    assert_eq!(e["details"]["column_name"], "Amount");
    expect_error(&crm, "select id from Deals where Modified_Time > 'yesterday'", 400, "INVALID_QUERY").await;
    let e = expect_error(&crm, "select id from Deals where Amount like '1%'", 400, "INVALID_QUERY").await;
    assert_eq!(e["message"], "data type not supported");
    expect_error(&crm, "select id from Deals where Description = 'x'", 400, "INVALID_QUERY").await;
    expect_error(&crm, "select Deal_Name, count(id) from Deals", 400, "INVALID_QUERY").await;
    expect_error(&crm, "select sum(Deal_Name) from Deals", 400, "INVALID_QUERY").await;
    expect_error(&crm, "select id from Deals limit 0", 400, "INVALID_QUERY").await;

    let e = expect_error(&crm, "select Deal_Name from Potentials", 400, "INVALID_MODULE").await;
    assert_eq!(e["details"]["module"], "Potentials");

    let e = expect_error(&crm, "select id from Deals limit 2001", 400, "LIMIT_EXCEEDED").await;
    assert_eq!(e["details"], json!({"clause": "limit", "limit": 2000}));
    let e = expect_error(&crm, "select id from Deals limit 98001, 2000", 400, "LIMIT_EXCEEDED").await;
    assert_eq!(e["details"]["limit"], 100_000);
    let fifty_one = (0..51).map(|_| "Deal_Name").collect::<Vec<_>>().join(", ");
    let e = expect_error(&crm, &format!("select {fifty_one} from Deals"), 400, "LIMIT_EXCEEDED").await;
    assert_eq!(e["details"]["limit"], 50);
    let twenty_six = (0..26).map(|i| format!("Amount != {i}")).collect::<Vec<_>>().join(" and ");
    let e = expect_error(&crm, &format!("select id from Deals where {twenty_six}"), 400, "LIMIT_EXCEEDED").await;
    assert_eq!(e["details"]["limit"], 25);
    let twenty_five = (0..25).map(|i| format!("Amount != {i}")).collect::<Vec<_>>().join(" and ");
    assert_eq!(crm.coql(&format!("select id from Deals where {twenty_five}")).await.0, 200);

    expect_error(&crm, "select id from Deals order by Amount, amount", 400, "DUPLICATE_DATA").await;
    expect_error(&crm, "select Amount as a, Deal_Name as a from Deals", 400, "DUPLICATE_ALIAS").await;
    expect_error(&crm, "select Amount as from Deals", 400, "SYNTAX_ERROR").await;
    expect_error(&crm, "select Amount as select from Deals", 400, "INVALID_ALIAS").await;
    expect_error(&crm, "select Amount as limit from Deals", 400, "INVALID_ALIAS").await;
}

#[tokio::test]
async fn hostile_queries_never_crash_the_server() {
    let crm = Crm::start().await;
    world(&crm).await;
    let deep = format!("select id from Deals where {}Amount = 1{}", "(".repeat(5000), ")".repeat(5000));
    let long_in = format!("select id from Deals where Deal_Name in ({})", (0..51).map(|i| format!("'{i}'")).collect::<Vec<_>>().join(","));
    let queries = [
        "select",
        "select id from",
        "select id from Deals where",
        "select id from Deals where Amount =",
        "select id from Deals where Deal_Name = 'unterminated",
        "select id from Deals where Deal_Name = '\\",
        "select id from Deals where ((Amount = 1)",
        "select id from Deals where Amount = 1))",
        "select id from Deals where Amount between 1",
        "select id from Deals where Amount in ()",
        "select id from Deals order by",
        "select id from Deals limit",
        "select id from Deals limit 1,",
        "select id from Deals limit 18446744073709551616",
        "select id from Deals limit 1 offset 18446744073709551615",
        "select id from Deals where Amount = 1e999999",
        "select id from Deals where Amount = 1.2.3",
        "select id from Deals where Created_Time between 'x' and 'y'",
        "select id from Deals where Product_Active = true",
        "select id from Deals where Amount > true",
        "select ä.ö from Déals",
        "select id from Deals where Deal_Name = '\u{0}\u{7f}\u{1F600}'",
        "select * from Deals",
        "delete from Deals",
        "select id, from Deals",
        "select count( from Deals",
        "select a.b.c.d from Deals",
        "select id from Deals;;",
        "\n\n\t",
        &deep,
        &long_in,
    ];
    for q in queries {
        let (status, body) = crm.coql(q).await;
        assert!((status == 200 || status == 204 || status == 400) && (status != 400 || body["status"] == "error"), "{q:?} -> {status} {body}");
        assert_ne!(status, 200, "{q:?} should not succeed: {body}");
    }
    // The emulator still answers normally afterwards.
    assert_eq!(crm.rows("select id from Deals limit 1").await.len(), 1);
}

#[tokio::test]
async fn credits_scale_with_the_limit() {
    let crm = Crm::start().await;
    world(&crm).await;
    let state = crm.emu.state();
    let mut limits = state.limiter.usage(state.clock.now_ms()).config;
    limits.crm_credits_per_day = Some(1_000_000);
    state.limiter.set_config(limits);
    for (query, cost) in [
        ("select id from Deals", 1),
        ("select id from Deals limit 200", 1),
        ("select id from Deals limit 201", 2),
        ("select id from Deals limit 1000", 2),
        ("select id from Deals limit 1001", 3),
        ("select id from Deals limit 10, 2000", 3),
    ] {
        let before = crm.credits_used();
        assert_eq!(crm.coql(query).await.0, 200, "{query}");
        assert_eq!(crm.credits_used() - before, cost, "{query}");
    }
}

#[tokio::test]
async fn answers_fit_zoho_coql_spec() {
    let dir = spec_dir_or_skip!();
    let spec = support::openapi::cached_crm(&dir).unwrap();
    let op = spec.operation("POST", "/crm/v8/coql").unwrap();
    let crm = Crm::start().await;
    world(&crm).await;
    for (query, status) in [
        ("select Deal_Name, Amount, Account_Name, Account_Name.Account_Name, Owner, Owner.email, Created_Time from Deals", 200),
        ("select count(*), sum(Amount) as total from Deals", 200),
        ("select id from Deals where", 400),
        ("select Nope from Deals", 400),
        ("select id from Deals where Amount = 'x'", 400),
        ("select id from Deals where Amount like '1%'", 400),
        ("select id from Deals limit 5000", 400),
        ("select id from Deals order by id, id", 400),
        ("select id as a, Amount as a from Deals", 400),
        ("select id from Deals limit 0", 400),
    ] {
        let (got, body) = crm.coql(query).await;
        assert_eq!(got, status, "{query}: {body}");
        let errors = spec.validate_response(op, got, "application/json", &body);
        assert!(errors.is_empty(), "{query}: {body}\n{errors:#?}");
    }
}
