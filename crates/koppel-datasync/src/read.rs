//! The feed's reads as the web serves them: pin a request to a sync ([`Snapshot`]), plan what it
//! asks for (OData query options into SQL, see [`crate::query`]), page a listing (page size, skip
//! tokens, whether a next page follows) and run the read, handing rows back as stored values.
//!
//! The web parses HTTP, writes JSON and decides about caching; it never sees SQL. A request goes
//! one way: web → [`Snapshot`] → a planned read ([`Planned`], [`Listing`]) → the store. The
//! planning step is separate from the read so the web can answer `304 Not Modified` (the entity
//! tag depends on the pinned sync) before anything is read.

use crate::feed::{FeedColumn, FeedSet, SkipToken};
use crate::query::{Plan, plan, storage_columns};
use crate::rows::{self, ReportingRead, SqlPiece};
use koppel_domain::AdministrationId;
use koppel_domain::record::{StorageType, Value};
use koppel_odata::QueryOptions;
use koppel_store::{Store, StoreError};
use std::future::Future;
use tokio::sync::mpsc;

/// Rows per page unless the client prefers fewer (or more, up to the cap).
pub const DEFAULT_PAGE_SIZE: u64 = 20_000;
/// The most rows a page has, whatever the client prefers.
pub const MAX_PAGE_SIZE: u64 = 50_000;

/// Why a feed read cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The administration has not been synced yet: there is nothing to read.
    #[error("the administration has not been synced yet")]
    NotSyncedYet,
    /// `$skiptoken` is not one this feed wrote.
    #[error("$skiptoken: not a skip token of this feed")]
    UnreadableSkipToken,
    /// `$skiptoken` names a sync after the current one.
    #[error("$skiptoken: not a skip token of this feed")]
    ForeignSkipToken,
    /// The sync a listing was pinned to has been pruned.
    #[error("the snapshot this listing was reading has expired")]
    SnapshotExpired,
    /// The query options are not valid for the entity set.
    #[error(transparent)]
    Query(#[from] koppel_odata::Error),
    /// No entity of the set has this key at the pinned sync.
    #[error("{set} has no entity with key {key}")]
    NoEntity { set: &'static str, key: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The page size of a listing: the client's preference (`odata.maxpagesize`), capped, or the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize {
    pub rows: u64,
    /// The preference as applied, when the client stated one.
    pub applied: Option<u64>,
}

impl PageSize {
    /// The page size for a client that prefers `preferred` rows per page (or states nothing).
    pub fn preferring(preferred: Option<u64>) -> PageSize {
        match preferred {
            Some(size) if size > 0 => {
                let applied = size.min(MAX_PAGE_SIZE);
                PageSize {
                    rows: applied,
                    applied: Some(applied),
                }
            }
            _ => PageSize {
                rows: DEFAULT_PAGE_SIZE,
                applied: None,
            },
        }
    }
}

/// A feed request pinned to the administration's current sync.
#[derive(Debug, Clone)]
pub struct Snapshot {
    store: Store,
    administration: AdministrationId,
    current: i64,
    oldest: i64,
}

impl Snapshot {
    /// The administration's current sync; [`ReadError::NotSyncedYet`] before the first.
    pub async fn current(store: &Store, administration: AdministrationId) -> Result<Snapshot, ReadError> {
        let state = crate::state::read(store, administration).await?;
        if state.current_sync == 0 {
            return Err(ReadError::NotSyncedYet);
        }
        Ok(Snapshot {
            store: store.clone(),
            administration,
            current: state.current_sync,
            oldest: state.oldest_sync,
        })
    }

    /// The sync single reads (entities, properties, counts) are pinned to.
    pub fn sync(&self) -> i64 {
        self.current
    }

    /// Checks and translates the options for a read of `set` at the current sync.
    pub fn plan(&self, set: &'static FeedSet, options: &QueryOptions) -> Result<Planned<'_>, ReadError> {
        Ok(Planned {
            snapshot: self,
            set,
            plan: plan(set, options, self.store.backend())?,
        })
    }

    /// One property of the entity with `key`, at the current sync.
    pub async fn property(
        &self,
        set: &'static FeedSet,
        key: i64,
        column: &'static FeedColumn,
    ) -> Result<Value, ReadError> {
        let whole = self.plan(set, &QueryOptions::default())?;
        let row = whole.entity(key).await?;
        let index = whole
            .plan
            .columns
            .iter()
            .position(|candidate| candidate.property == column.property)
            .ok_or(ReadError::NoEntity { set: set.name, key })?;
        Ok(row.into_iter().nth(index).unwrap_or(Value::Null))
    }

    /// Plans one page of a listing: pinned to the sync of its skip token (the current one on the
    /// first page), with `page_size` rows at most and `$top`, `$skip` and the token's position
    /// applied.
    pub fn listing(
        &self,
        set: &'static FeedSet,
        options: &QueryOptions,
        page_size: PageSize,
    ) -> Result<Listing, ReadError> {
        let token = match &options.skiptoken {
            None => None,
            Some(text) => Some(SkipToken::decode(text).ok_or(ReadError::UnreadableSkipToken)?),
        };
        let sync = token.map_or(self.current, |token| token.sync);
        if sync > self.current {
            return Err(ReadError::ForeignSkipToken);
        }
        if sync < self.oldest {
            return Err(ReadError::SnapshotExpired);
        }
        let plan = plan(set, options, self.store.backend())?;
        let served = token.map_or(0, |token| token.served);
        let remaining = options.top.map(|top| top.saturating_sub(served));
        let limit = remaining.map_or(page_size.rows, |remaining| remaining.min(page_size.rows));
        let keyset = plan.order.is_empty();
        let skip = options.skip.unwrap_or(0);
        let (after_key, offset) = match (keyset, token) {
            (true, Some(token)) => (Some(token.last_key), 0),
            (true, None) => (None, skip),
            (false, _) => (None, skip + served),
        };
        let mut columns = storage_columns(&plan);
        // The key last, for the next page's cursor.
        columns.push((set.source.key(), StorageType::Integer));
        Ok(Listing {
            store: self.store.clone(),
            administration: self.administration,
            set,
            sync,
            plan,
            columns,
            page: PagePosition {
                limit,
                may_continue: remaining.is_none_or(|remaining| remaining > limit),
                sync,
                served,
            },
            after_key,
            offset,
        })
    }
}

/// A planned read of single rows or a count at a snapshot's sync.
#[derive(Debug)]
pub struct Planned<'s> {
    snapshot: &'s Snapshot,
    set: &'static FeedSet,
    plan: Plan<'static>,
}

impl Planned<'_> {
    /// The properties read, in model order (all of them without `$select`).
    pub fn columns(&self) -> &[&'static FeedColumn] {
        &self.plan.columns
    }

    /// The entity with `key`, its values in the order of [`Planned::columns`].
    pub async fn entity(&self, key: i64) -> Result<Vec<Value>, ReadError> {
        let columns = storage_columns(&self.plan);
        let filter = vec![
            SqlPiece::Sql(format!("{} = ", self.set.source.key())),
            SqlPiece::Bind(Value::Integer(key)),
        ];
        let read = ReportingRead {
            administration: self.snapshot.administration,
            source: self.set.source,
            sync: self.snapshot.current,
            columns: &columns,
            filter: &filter,
            order: &[],
            after_key: None,
            offset: 0,
            limit: 1,
        };
        let mut found = rows::fetch(&self.snapshot.store, &read).await?;
        if found.is_empty() {
            return Err(ReadError::NoEntity {
                set: self.set.name,
                key,
            });
        }
        Ok(found.swap_remove(0))
    }

    /// How many entities match the filter (`Set/$count`).
    pub async fn count(&self) -> Result<i64, ReadError> {
        let columns = storage_columns(&self.plan);
        let read = ReportingRead {
            administration: self.snapshot.administration,
            source: self.set.source,
            sync: self.snapshot.current,
            columns: &columns,
            filter: &self.plan.filter,
            order: &[],
            after_key: None,
            offset: 0,
            limit: 0,
        };
        Ok(rows::count(&self.snapshot.store, &read).await?)
    }
}

/// Where a page sits in its listing, and how long it may be.
#[derive(Debug, Clone, Copy)]
struct PagePosition {
    /// Rows on this page at most; the source is asked for one more, to know whether more follow.
    limit: u64,
    /// Whether `$top` leaves room for another page.
    may_continue: bool,
    sync: i64,
    /// Rows served on earlier pages of the listing.
    served: u64,
}

/// One planned page of a listing, pinned to its sync.
#[derive(Debug)]
pub struct Listing {
    store: Store,
    administration: AdministrationId,
    set: &'static FeedSet,
    sync: i64,
    plan: Plan<'static>,
    /// The planned columns and then the key.
    columns: Vec<(&'static str, StorageType)>,
    page: PagePosition,
    after_key: Option<i64>,
    offset: u64,
}

impl Listing {
    /// The sync the listing reads.
    pub fn sync(&self) -> i64 {
        self.sync
    }

    /// The properties written, in model order (all of them without `$select`).
    pub fn columns(&self) -> &[&'static FeedColumn] {
        &self.plan.columns
    }

    fn read(&self) -> ReportingRead<'_> {
        ReportingRead {
            administration: self.administration,
            source: self.set.source,
            sync: self.sync,
            columns: &self.columns,
            filter: &self.plan.filter,
            order: &self.plan.order,
            after_key: self.after_key,
            offset: self.offset,
            limit: self.page.limit + 1,
        }
    }

    /// How many entities the whole listing has (`$count=true`), ignoring paging.
    pub async fn count(&self) -> Result<i64, ReadError> {
        Ok(rows::count(&self.store, &self.read()).await?)
    }

    /// Starts reading the page's rows; they arrive in batches as the database delivers them.
    pub fn rows(self) -> PageRows {
        let page = self.page;
        PageRows::start(
            page.limit,
            page.may_continue,
            (page.sync, page.served),
            move |sender| async move { rows::send(&self.store, &self.read(), sender).await },
        )
    }
}

/// A batch of rows: each row holds the listing's columns and then its key.
pub type Batch = Vec<Vec<Value>>;

/// The rows of one page as they come from the database, cut at the page's size, and what follows
/// the page: the skip token of the next page, if there is one.
pub struct PageRows {
    incoming: mpsc::Receiver<Batch>,
    producer: Option<tokio::task::JoinHandle<Result<u64, StoreError>>>,
    limit: u64,
    may_continue: bool,
    sync: i64,
    served: u64,
    written: u64,
    last_key: i64,
    more: bool,
    /// Whether the page has all its rows (or the source ended): nothing more is received.
    cut: bool,
}

impl std::fmt::Debug for PageRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageRows")
            .field("limit", &self.limit)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl PageRows {
    /// Rows from `produce`, which sends batches (a row's last value is its key) and may send one row
    /// more than `limit` to tell that more follow; `position` is the listing's sync and the rows
    /// served on earlier pages. `produce` runs as its own task and stops (without error) when the
    /// page has what it needs.
    pub fn start<F, P>(limit: u64, may_continue: bool, position: (i64, u64), produce: P) -> PageRows
    where
        P: FnOnce(mpsc::Sender<Batch>) -> F,
        F: Future<Output = Result<u64, StoreError>> + Send + 'static,
    {
        // A few batches in flight at most ([`crate::rows::SEND_BATCH`] rows each).
        let (sender, incoming) = mpsc::channel::<Batch>(4);
        let producer = tokio::spawn(produce(sender));
        let (sync, served) = position;
        PageRows {
            incoming,
            producer: Some(producer),
            limit,
            may_continue,
            sync,
            served,
            written: 0,
            last_key: 0,
            more: false,
            cut: false,
        }
    }

    /// The next batch of the page's rows, or `None` after the last. An error is the database's,
    /// also when some rows came before it.
    pub async fn next_batch(&mut self) -> Result<Option<Batch>, StoreError> {
        if !self.cut
            && let Some(mut batch) = self.incoming.recv().await
        {
            let room = usize::try_from(self.limit - self.written).unwrap_or(usize::MAX);
            if batch.len() > room {
                // A row beyond the page: another page follows (if `$top` leaves room for it), and
                // the source stops (without error) once nobody receives.
                batch.truncate(room);
                self.more = self.may_continue;
                self.cut = true;
            }
            if let Some(key) = batch.last().and_then(|row| row.last()).and_then(Value::as_i64) {
                self.last_key = key;
            }
            self.written += batch.len() as u64;
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
        }
        self.cut = true;
        self.finish().await.map(|()| None)
    }

    /// Waits for the source to end and reports its error, if any (once).
    async fn finish(&mut self) -> Result<(), StoreError> {
        self.incoming.close();
        let Some(producer) = self.producer.take() else {
            return Ok(());
        };
        match producer.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(error),
            Err(error) => Err(StoreError::Internal(format!("the feed's row reader stopped: {error}"))),
        }
    }

    /// Rows handed out so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The skip token of the next page, once the rows have ended; `None` when this page is the last.
    pub fn next_token(&self) -> Option<SkipToken> {
        self.more.then(|| SkipToken {
            sync: self.sync,
            served: self.served + self.written,
            last_key: self.last_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_follow_the_preference_up_to_the_cap() {
        let default = PageSize {
            rows: DEFAULT_PAGE_SIZE,
            applied: None,
        };
        assert_eq!(PageSize::preferring(None), default);
        assert_eq!(PageSize::preferring(Some(0)), default);
        assert_eq!(
            PageSize::preferring(Some(100)),
            PageSize {
                rows: 100,
                applied: Some(100)
            }
        );
        assert_eq!(
            PageSize::preferring(Some(1_000_000)),
            PageSize {
                rows: MAX_PAGE_SIZE,
                applied: Some(MAX_PAGE_SIZE)
            }
        );
    }

    /// A page of at most `limit` rows from a source of `rows` rows keyed 100, 101, … in batches of 4.
    fn page(limit: u64, may_continue: bool, rows: i64) -> PageRows {
        PageRows::start(
            limit,
            may_continue,
            (3, 10),
            move |sender: mpsc::Sender<Batch>| async move {
                let mut sent = 0;
                while sent < rows {
                    let batch: Batch = (sent..(sent + 4).min(rows))
                        .map(|n| vec![Value::Integer(n), Value::Integer(100 + n)])
                        .collect();
                    sent += batch.len() as i64;
                    if sender.send(batch).await.is_err() {
                        break;
                    }
                }
                Ok(sent as u64)
            },
        )
    }

    async fn drain(mut rows: PageRows) -> (Vec<i64>, Option<SkipToken>) {
        let mut keys = Vec::new();
        while let Some(batch) = rows.next_batch().await.expect("no error") {
            keys.extend(batch.iter().filter_map(|row| row.last().and_then(Value::as_i64)));
        }
        (keys, rows.next_token())
    }

    #[tokio::test]
    async fn a_page_stops_at_its_size_and_names_the_next_page() {
        let (keys, next) = drain(page(5, true, 12)).await;
        assert_eq!(keys, vec![100, 101, 102, 103, 104]);
        assert_eq!(
            next,
            Some(SkipToken {
                sync: 3,
                served: 15,
                last_key: 104
            })
        );
    }

    #[tokio::test]
    async fn the_last_page_and_a_page_top_ends_have_no_next_page() {
        let (keys, next) = drain(page(5, true, 5)).await;
        assert_eq!(keys.len(), 5);
        assert_eq!(next, None, "exactly a page of rows: nothing follows");
        let (keys, next) = drain(page(5, false, 12)).await;
        assert_eq!(keys.len(), 5);
        assert_eq!(next, None, "$top leaves no room for another page");
    }
}
