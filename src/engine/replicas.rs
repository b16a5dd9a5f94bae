//! The engine as one replica of several: catalog changes and reloads through the
//! shared catalog feed ([`ProductFeed`]) when there is one.

use std::sync::Arc;

use serde::Serialize;

use super::Engine;
use crate::config::LoadReport;
use crate::error::Error;
use crate::error::Result;
use crate::product_feed::{FeedMessage, ProductFeed};
use crate::shoppers::RedisStore;

/// What a reload told the other replicas.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ReloadBroadcast {
    /// Whether the other replicas were asked to reload.
    pub broadcast: bool,
    /// A sentence for the operator.
    pub message: String,
}

impl Engine {
    /// The same engine as one replica of several: events and profiles in the Redis at
    /// `url`, catalog changes through its feed. Applies the feed entries the index has
    /// not seen yet before returning, so a restarted replica serves current products.
    pub fn into_replica(self, url: &str) -> Result<(Engine, Arc<ProductFeed>)> {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(Error::bad_request(
                "bad_store_url",
                format!(
                    "--shopper-store {url:?}: give a Redis address (redis://HOST:PORT), \
                     or leave the option out for the embedded store"
                ),
            ));
        }
        let store = RedisStore::open(url)?;
        let feed = Arc::new(ProductFeed::open(url)?);
        let engine = self.with_shoppers(Arc::new(store)).with_feed(feed.clone());
        let applied = feed.catch_up(&engine)?;
        tracing::info!("catalog feed: {applied} entries applied at start-up");
        Ok((engine, feed))
    }

    /// The same engine, sending product changes and reloads through `feed`.
    pub fn with_feed(mut self, feed: Arc<ProductFeed>) -> Engine {
        self.feed = Some(feed);
        self
    }

    /// The shared catalog feed, when this is one of several replicas.
    pub fn feed(&self) -> Option<&Arc<ProductFeed>> {
        self.feed.as_ref()
    }

    /// Reloads this replica's configuration and asks every other replica to reload
    /// theirs; a refused configuration is reported and goes nowhere.
    pub fn reload_everywhere(&self) -> Result<(LoadReport, ReloadBroadcast)> {
        let report = self.reload_config()?;
        let Some(feed) = &self.feed else {
            return Ok((
                report,
                ReloadBroadcast {
                    broadcast: false,
                    message:
                        "this server runs alone (no --shopper-store redis://): only it reloaded"
                            .into(),
                },
            ));
        };
        let broadcast = match feed.publish(&FeedMessage::Reload) {
            Ok(id) => ReloadBroadcast {
                broadcast: true,
                message: format!(
                    "every replica re-reads its own synonyms/ and boosts/ when it reaches catalog \
                     feed entry {id} (within a second); a replica whose files have problems keeps \
                     its old configuration and logs them"
                ),
            },
            Err(e) => ReloadBroadcast {
                broadcast: false,
                message: format!(
                    "this replica reloaded, but the other replicas were not told: {e}; \
                     reload them one by one or retry"
                ),
            },
        };
        Ok((report, broadcast))
    }
}
