//! The store as the zoho client's [`zoho::TokenCache`]: the processes sharing a store
//! (a `serve` and its extra workers, or a worker restarted after a crash) share one
//! access token per connection, so together they stay within Zoho's allowance of about
//! ten token requests per ten minutes. Tokens arrive sealed; the store never sees one
//! in clear.

use std::fmt;

use futures_util::{FutureExt, future::BoxFuture};

use super::Store;

/// A [`Store`] serving as a token cache.
#[derive(Clone)]
pub struct StoreTokenCache<S: Store>(pub S);

impl<S: Store> fmt::Debug for StoreTokenCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreTokenCache")
    }
}

impl<S: Store> zoho::TokenCache for StoreTokenCache<S> {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<zoho::SealedToken>, String>> {
        async move { self.0.token(key).await.map_err(|e| e.to_string()) }.boxed()
    }

    fn save<'a>(&'a self, key: &'a str, token: &'a zoho::SealedToken) -> BoxFuture<'a, Result<(), String>> {
        async move { self.0.save_token(key, token, crate::flows::now_ms()).await.map_err(|e| e.to_string()) }.boxed()
    }
}
