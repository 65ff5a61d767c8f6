"""An agent using zoho-bridge's gateway through the official MCP Python SDK (`mcp`).

Run by tests/mcp.rs, over streamable HTTP (`serve`'s /mcp) or stdio (`zoho-bridge mcp`),
with the token in ZOHO_BRIDGE_MCP_TOKEN (scopes read and money, not write). It lists the
tools, calls a read tool, is refused a write tool, asks for an invoice (a money tool
that waits for approval), prints `APPROVAL <id>` for the test to approve, and polls
`approval_status` until the approval is finished. With `--credit-deal`, it then asks
`--credit-asks` times for that deal's credit note (the first time, a second request
while the first waits must be refused), prints `APPROVAL <id>` for the test to approve
or reject, and prints how each ended (`CREDIT <n> <stage> <document> job=<id> :: <outcome>`).
Each step prints one line; any surprise exits non-zero with what was seen.
"""

import argparse
import asyncio
import json
import os
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

EXPECTED_TOOLS = {
    "find_customer", "customer_invoices", "overdue_invoices", "deal_sync_state", "job_status", "dead_letters",
    "list_reviews", "approval_status", "sync_record", "replay_dead_letter", "resolve_review",
    "create_invoice_for_deal", "convert_quote", "issue_credit_note",
}
# Polls of approval_status, 0.2 s apart: a bound so a stuck run ends the test.
MAX_POLLS = 600


def fail(message):
    print(f"FAIL {message}", flush=True)
    sys.exit(1)


def text_of(result):
    return "".join(getattr(block, "text", "") for block in result.content)


def is_error(result):
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


async def call(session, name, arguments):
    result = await session.call_tool(name, arguments)
    return is_error(result), text_of(result)


async def agent(session, args):
    await session.initialize()
    tools = await session.list_tools()
    names = {t.name for t in tools.tools}
    if names != EXPECTED_TOOLS:
        fail(f"tools: missing {sorted(EXPECTED_TOOLS - names)}, unexpected {sorted(names - EXPECTED_TOOLS)}")
    for tool in tools.tools:
        schema = getattr(tool, "input_schema", None) or getattr(tool, "inputSchema", None)
        if not tool.description or not schema or schema.get("type") != "object":
            fail(f"tool {tool.name} has no description or object schema: {tool}")
    print(f"TOOLS {len(names)}", flush=True)

    error, text = await call(session, "find_customer", {"query": args.customer})
    if error:
        fail(f"find_customer: {text}")
    found = json.loads(text)
    if not any(args.customer in (a.get("name") or "") for a in found["crm_accounts"]):
        fail(f"find_customer found no CRM account named like {args.customer!r}: {text}")
    print(f"READ {len(found['crm_accounts'])} account(s)", flush=True)

    error, text = await call(session, "sync_record", {"flow": "customer_sync", "system": "crm", "module": "Accounts", "record_id": "1"})
    if not error or "needs the write scope" not in text:
        fail(f"sync_record without the write scope was not refused: {text}")
    print("REFUSED write", flush=True)

    error, text = await call(session, "create_invoice_for_deal", {"deal_id": args.deal})
    if error:
        fail(f"create_invoice_for_deal: {text}")
    answer = json.loads(text)
    if answer.get("status") != "pending_approval":
        fail(f"create_invoice_for_deal did not wait for approval: {text}")
    print(f"APPROVAL {answer['approval_id']}", flush=True)
    status = await finished(session, answer["approval_id"])
    document = status.get("document") or {}
    print(f"FINISHED {status['stage']} {document.get('books_id', '-')}", flush=True)
    if status["stage"] != "done":
        fail(f"the approved invoice did not end done: {status}")

    if args.credit_deal:
        await credit(session, args)


async def finished(session, approval_id):
    """Polls approval_status until the approval is finished; answers its last status."""
    for _ in range(MAX_POLLS):
        error, text = await call(session, "approval_status", {"approval_id": approval_id})
        if error:
            fail(f"approval_status: {text}")
        status = json.loads(text)
        if status["finished"]:
            return status
        await asyncio.sleep(0.2)
    fail(f"approval {approval_id} not finished after {MAX_POLLS} polls: {text}")


async def credit(session, args):
    """Asks for the credit note of --credit-deal, --credit-asks times, one after another."""
    request = {"deal_id": args.credit_deal, "reason": "the customer kept only part of the order"}
    for n in range(args.credit_asks):
        error, text = await call(session, "issue_credit_note", request)
        if error:
            print(f"CREDIT {n} refused :: {text}", flush=True)
            continue
        answer = json.loads(text)
        if answer.get("status") != "pending_approval":
            fail(f"issue_credit_note did not wait for approval: {text}")
        if n == 0:
            error, again = await call(session, "issue_credit_note", request)
            if not error or "already waiting" not in again:
                fail(f"a second credit note request while the first waits was not refused: {again}")
            print("CREDIT DUPLICATE refused", flush=True)
        print(f"APPROVAL {answer['approval_id']}", flush=True)
        status = await finished(session, answer["approval_id"])
        document = status.get("document") or {}
        job = status.get("job") or {}
        print(f"CREDIT {n} {status['stage']} {document.get('books_id', '-')} job={job.get('job_id', 'none')} :: {job.get('outcome') or ''}", flush=True)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["http", "stdio"], required=True)
    parser.add_argument("--url", help="the /mcp URL (http)")
    parser.add_argument("--bridge", help="the zoho-bridge binary (stdio)")
    parser.add_argument("--config", help="its config file (stdio)")
    parser.add_argument("--deal", required=True, help="a closed-won CRM deal to invoice")
    parser.add_argument("--customer", required=True, help="a word of its account's name")
    parser.add_argument("--credit-deal", help="an invoiced CRM deal to ask the credit note of")
    parser.add_argument("--credit-asks", type=int, default=1, help="how many times to ask for it, one after another")
    args = parser.parse_args()
    token = os.environ["ZOHO_BRIDGE_MCP_TOKEN"]
    if args.transport == "http":
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with http, streamable_http_client(args.url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await agent(session, args)
    else:
        server = StdioServerParameters(command=args.bridge, args=["mcp", "-c", args.config], env={"ZOHO_BRIDGE_MCP_TOKEN": token, "RUST_LOG": "warn"})
        async with stdio_client(server) as (read, write):
            async with ClientSession(read, write) as session:
                await agent(session, args)
    print("OK", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
