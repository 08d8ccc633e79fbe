//! Reading the live cluster for plan and apply: server profile, current TSO, and every
//! changefeed of the namespaces involved (list, then one GET each, `parallelism` at a time).
//! On classic servers the GET is `meta_info`, which is GET plus the unmasked sink URI: one
//! round trip per changefeed either way. The unmasked URI stays in memory.
//!
//! Every read is retried through outages for `--retry-for` (the client's budget). A changefeed
//! whose read still fails is recorded as unreadable, not fatal: the plan shows it as unknown
//! and apply leaves it alone. A namespace whose list cannot be read makes every changefeed of
//! it unknown, so `--prune` never deletes on the strength of a list it did not get.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::plan::planner::LiveChangefeed;
use crate::plan::saved::fingerprint;
use crate::plan::{Key, KeyList};
use crate::ticdc::mask::SinkUri;
use crate::ticdc::models::ChangefeedCommonInfo;
use crate::ticdc::{Arch, Client, ClientError, ServerProfile, Version};
use crate::Error;

pub struct Snapshot {
    pub profile: ServerProfile,
    pub now_tso: u64,
    /// The changefeeds read in full (GET or meta_info).
    pub changefeeds: BTreeMap<Key, LiveChangefeed>,
    /// Changefeeds listed but not read (the error, after the retry budget).
    pub unreadable: BTreeMap<Key, String>,
    /// Namespaces whose list could not be read (the error): nothing in them is known.
    pub unlisted: BTreeMap<String, String>,
    /// The changefeeds known from the list alone: outside the read's scope, their configs were
    /// never fetched (a shared cluster holds many that are not this repository's).
    pub listed_only: KeyList,
}

impl Snapshot {
    /// Whether the changefeed named `namespace/id` (a saved plan's key) is unknown.
    pub fn unknown_by_name(&self, name: &str) -> bool {
        let Some((ns, id)) = name.split_once('/') else {
            return false;
        };
        let key = Key {
            namespace: ns.to_string(),
            id: id.to_string(),
        };
        self.unknown(&key).is_some()
    }

    /// Why `key`'s live state is unknown, if it is.
    pub fn unknown(&self, key: &Key) -> Option<&str> {
        self.unreadable
            .get(key)
            .or_else(|| self.unlisted.get(&key.namespace))
            .map(String::as_str)
    }
}

/// Which listed changefeeds to read in full; `None` reads every one.
pub type Wanted<'a> = Option<&'a (dyn Fn(&Key) -> bool + Sync)>;

fn server_error(client: &Client, what: &str, e: ClientError) -> Error {
    match e {
        e @ ClientError::Transport { .. } => Error::Client(e),
        source => Error::Server {
            what: what.to_string(),
            server: client.base_url().to_string(),
            source: Box::new(source),
        },
    }
}

/// One key per thread, refilled for each id a list names: no allocation per listed changefeed
/// (the task that sifts a list may move between threads).
struct Probe(Key);

impl Probe {
    fn ask(&mut self, wanted: &(dyn Fn(&Key) -> bool + Sync), ns: &str, id: &str) -> bool {
        for (have, want) in [(&mut self.0.namespace, ns), (&mut self.0.id, id)] {
            have.clear();
            have.push_str(want);
        }
        wanted(&self.0)
    }
}

thread_local! {
    static PROBE: std::cell::RefCell<Probe> = const {
        std::cell::RefCell::new(Probe(Key { namespace: String::new(), id: String::new() }))
    };
}

/// Per namespace: the changefeeds to read in full, and the keys of the others.
struct Listed {
    items: Vec<(String, ChangefeedCommonInfo)>,
    listed_only: KeyList,
    keyspaced: bool,
    failed: BTreeMap<String, String>,
}

/// List every namespace, sifting each list by `wanted` as it is decoded; a namespace whose list
/// fails (after the retry budget) is returned apart with its error, unless the failure is
/// definitive for the whole server.
async fn list_all(
    client: &Client,
    namespaces: &BTreeSet<String>,
    wanted: Wanted<'_>,
) -> Result<Listed, Error> {
    let mut out = Listed {
        items: Vec::new(),
        listed_only: KeyList::new(),
        keyspaced: false,
        failed: BTreeMap::new(),
    };
    for ns in namespaces {
        let keep = wanted.map(|w| move |id: &str| PROBE.with_borrow_mut(|k| k.ask(w, ns, id)));
        let keep = keep.as_ref().map(|k| k as _);
        match client.list_where(ns, Some("all"), keep, true).await {
            Ok(l) => {
                out.keyspaced |= l.keyspaced;
                out.items
                    .extend(l.kept.into_iter().map(|i| (ns.clone(), i)));
                out.listed_only.append(ns, l.others);
            }
            Err(e) if e.is_transient() => {
                out.failed.insert(ns.clone(), e.brief());
            }
            Err(e) => {
                return Err(server_error(
                    client,
                    &format!("listing changefeeds of namespace {ns}"),
                    e,
                ))
            }
        }
    }
    Ok(out)
}

/// Read one changefeed as a plan does (`meta_info` on classic servers, with the URI masked for
/// comparison and the raw one kept), fingerprinted. `None` when it does not exist.
pub async fn read_one(
    client: &Client,
    profile: &ServerProfile,
    key: &Key,
) -> Result<Option<LiveChangefeed>, ClientError> {
    let res = if profile.has_meta_info() {
        client.meta_info(&key.namespace, &key.id).await
    } else {
        client.get_changefeed(&key.namespace, &key.id).await
    };
    let mut info = match res {
        Ok(info) => info,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    // Parsed once: the mask shown and compared, and the form the planner compares.
    let raw_uri = profile
        .has_meta_info()
        .then(|| Box::new(SinkUri::parse(&info.sink_uri)));
    if let Some(u) = &raw_uri {
        info.sink_uri = u.masked().unwrap_or_else(|_| "<invalid uri>".into());
    }
    let mut l = LiveChangefeed {
        info,
        raw_uri,
        ..Default::default()
    };
    l.fingerprint = Some(fingerprint(Some(&l)));
    Ok(Some(l))
}

type Read = (Key, Result<Option<LiveChangefeed>, ClientError>);

/// Stops a task when the read is abandoned (e.g. on SIGINT, or at a definitive error).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What one reader takes its next changefeed from.
type Queue = Arc<Mutex<std::vec::IntoIter<Key>>>;

/// How many answers go to the settling side at once.
const BATCH: usize = 8;

/// Answers on their way to be settled, handed on [`BATCH`] at a time: the settling side (often
/// another thread, parked) is woken once per batch rather than once per changefeed, as waking a
/// thread costs more than settling an unchanged changefeed. A definitive error goes at once.
/// What is left when every reader is done is taken by the settling side itself.
#[derive(Clone)]
struct Answers {
    gathered: Arc<Mutex<Vec<Read>>>,
    tx: tokio::sync::mpsc::Sender<Vec<Read>>,
}

impl Answers {
    /// Hand `read` on; false when nobody listens any more.
    async fn hand_on(&self, read: Read) -> bool {
        let urgent = matches!(&read.1, Err(e) if !e.is_transient());
        let batch = {
            let mut g = self.gathered.lock().unwrap_or_else(|e| e.into_inner());
            g.push(read);
            if g.len() < BATCH && !urgent {
                return !self.tx.is_closed();
            }
            std::mem::replace(&mut *g, Vec::with_capacity(BATCH))
        };
        self.tx.send(batch).await.is_ok()
    }
}

/// One of [`read_all`]'s readers: takes the next key, reads it within a slot, hands the answer
/// on, and goes on with the next, until the queue is empty or nobody listens.
async fn reader(
    client: Client,
    profile: Arc<ServerProfile>,
    slots: Arc<tokio::sync::Semaphore>,
    queue: Queue,
    answers: Answers,
) {
    loop {
        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
        let Some(key) = next else { return };
        let Ok(slot) = slots.acquire().await else {
            return;
        };
        let res = read_one(&client, &profile, &key).await;
        drop(slot);
        if !answers.hand_on((key, res)).await {
            return;
        }
    }
}

/// Start reading `items`: those already asked beside the list are awaited, the others are
/// shared out to `parallelism` [`reader`]s. Every answer goes to `answers`; the readers stop
/// when what is returned is dropped.
fn start_reads(
    client: &Client,
    profile: &ServerProfile,
    items: Vec<(String, ChangefeedCommonInfo)>,
    mut early: Early,
    answers: Answers,
) -> Vec<AbortOnDrop> {
    let mut todo = Vec::with_capacity(items.len());
    for (ns, item) in items {
        let key = Key {
            namespace: ns,
            id: item.id,
        };
        // Already asked while the list was read: its answer is awaited, not asked again.
        let Some(task) = early.reads.remove(&key) else {
            todo.push(key);
            continue;
        };
        let answers = answers.clone();
        tokio::spawn(async move {
            if let Ok(res) = task.await {
                answers.hand_on((key, res)).await;
            }
        });
    }
    // Early reads the list did not confirm are not waited for.
    early.abort();
    let workers = early.parallelism.min(todo.len());
    let queue: Queue = Arc::new(Mutex::new(todo.into_iter()));
    let profile = Arc::new(profile.clone());
    (0..workers)
        .map(|_| {
            AbortOnDrop(tokio::spawn(reader(
                client.clone(),
                profile.clone(),
                early.slots.clone(),
                queue.clone(),
                answers.clone(),
            )))
        })
        .collect()
}

/// Read every listed changefeed, `parallelism` at a time, settling each as it arrives.
///
/// Fetching and planning are decoupled: `parallelism` reader tasks each read (request,
/// decoding, fingerprint) one changefeed after another, and go on with the next as soon as an
/// answer is decoded; settling runs here, beside them, so a request never waits for it. A
/// reader lives for the whole read rather than a task per changefeed: no spawn, no semaphore
/// wake-up and no task hand-off per changefeed.
async fn read_all(
    client: &Client,
    profile: &ServerProfile,
    now_tso: u64,
    items: Vec<(String, ChangefeedCommonInfo)>,
    early: Early,
    settle: Option<Settle<'_>>,
) -> Result<Fetched, Error> {
    let n = items.len();
    // Bounded: answers that wait to be settled are few, so memory stays with the changes.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Read>>(2);
    let gathered = Arc::new(Mutex::new(Vec::with_capacity(BATCH)));
    let answers = Answers {
        gathered: gathered.clone(),
        tx,
    };
    let _readers = start_reads(client, profile, items, early, answers);
    let mut out = Fetched::default();
    let mut answered = 0;
    while let Some(batch) = rx.recv().await {
        answered += batch.len();
        for (key, res) in batch {
            out.take(client, profile, now_tso, settle, key, res)?;
        }
    }
    // Every reader is done: what they gathered last is taken here.
    let rest = std::mem::take(&mut *gathered.lock().unwrap_or_else(|e| e.into_inner()));
    answered += rest.len();
    for (key, res) in rest {
        out.take(client, profile, now_tso, settle, key, res)?;
    }
    // A read that never answered (its task panicked) must not pass for a deleted changefeed.
    if answered != n {
        return Err(Error::msg(format!(
            "internal error: {} of {n} changefeed reads ended without an answer; nothing was planned",
            n - answered
        )));
    }
    out.compact();
    Ok(out)
}

impl Fetched {
    /// Settle and keep one answer; the first definitive error ends the read (the readers stop
    /// as they are dropped).
    fn take(
        &mut self,
        client: &Client,
        profile: &ServerProfile,
        now_tso: u64,
        settle: Option<Settle<'_>>,
        key: Key,
        res: Result<Option<LiveChangefeed>, ClientError>,
    ) -> Result<(), Error> {
        match res {
            Ok(Some(mut l)) => {
                if let Some(notes) = settle.and_then(|f| f(profile, now_tso, &key, &l)) {
                    l.settle(notes);
                }
                self.fresh.insert(key, l);
                if self.fresh.len() >= COMPACT_EVERY {
                    self.compact();
                }
            }
            // Removed between the list and the GET: it is gone.
            Ok(None) => {}
            Err(e) if e.is_transient() => {
                self.unreadable.insert(key, e.brief());
            }
            Err(e) => {
                return Err(server_error(
                    client,
                    &format!("reading changefeed {key}"),
                    e,
                ))
            }
        }
        Ok(())
    }
}

/// Reads of the changefeeds a caller names (its manifests), started beside the list rather
/// than after it: on a shared cluster the list is the long part, and these reads then cost no
/// time. At most [`EARLY_ROUNDS`] rounds of them, as their answers are held until the list is
/// read. Each guesses the server's architecture (which route to read); when the list shows
/// otherwise they are dropped and read again. One semaphore bounds them and the later reads
/// together, so `--parallelism` holds.
struct Early {
    parallelism: usize,
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    arch: Arch,
    reads: std::collections::HashMap<Key, ReadTask>,
}

/// How many rounds of reads [`Early`] starts beside the list.
const EARLY_ROUNDS: usize = 4;

type ReadTask = tokio::task::JoinHandle<Result<Option<LiveChangefeed>, ClientError>>;

impl Early {
    fn start<'k>(
        client: &Client,
        named: impl IntoIterator<Item = &'k Key>,
        parallelism: usize,
    ) -> Early {
        let parallelism = parallelism.max(1);
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(parallelism));
        let arch = client.arch();
        let profile = std::sync::Arc::new(ServerProfile {
            arch,
            ..ServerProfile::default()
        });
        // Their answers wait, whole, until the list is read: a few rounds' worth start early,
        // so memory stays bounded however many changefeeds the manifests name.
        let reads = named
            .into_iter()
            .take(EARLY_ROUNDS * parallelism)
            .map(|key| {
                let (client, profile, slots, k) =
                    (client.clone(), profile.clone(), slots.clone(), key.clone());
                let task = tokio::spawn(async move {
                    let _slot = slots.acquire_owned().await;
                    read_one(&client, &profile, &k).await
                });
                (key.clone(), task)
            })
            .collect();
        Early {
            parallelism,
            slots,
            arch,
            reads,
        }
    }

    /// The reads still useful for a server of `arch`: none if the guess was wrong.
    fn for_arch(mut self, arch: Arch) -> Early {
        if arch != self.arch {
            self.abort();
        }
        self
    }

    fn abort(&mut self) {
        for (_, t) in self.reads.drain() {
            t.abort();
        }
    }
}

impl Drop for Early {
    fn drop(&mut self) {
        self.abort();
    }
}

/// What [`read_all`] found, as it arrived.
#[derive(Default)]
struct Fetched {
    changefeeds: BTreeMap<Key, LiveChangefeed>,
    unreadable: BTreeMap<Key, String>,
    /// The changefeeds read lately, moved into `changefeeds` [`COMPACT_EVERY`] at a time (see
    /// [`Fetched::compact`]).
    fresh: BTreeMap<Key, LiveChangefeed>,
}

/// How many changefeeds [`Fetched::fresh`] gathers before they join the rest.
const COMPACT_EVERY: usize = 1024;

impl Fetched {
    /// Move the changefeeds read lately into the others. Answers come in about the list's
    /// (sorted) order, and a map filled in ascending order leaves its nodes a little over half
    /// full; `append` builds the merged map anew with full nodes, so ten thousand changefeeds
    /// take about half the memory (the old nodes are freed as they are merged).
    fn compact(&mut self) {
        self.changefeeds.append(&mut self.fresh);
    }
}

/// Detect the server profile and read the live changefeeds.
/// Decides, right after a changefeed was read, that it needs no work (see [`read_settling`]).
pub type Settle<'a> =
    &'a (dyn Fn(&ServerProfile, u64, &Key, &LiveChangefeed) -> Option<Vec<String>> + Sync);

pub async fn read(
    client: &Client,
    namespaces: &BTreeSet<String>,
    parallelism: usize,
    wanted: Wanted<'_>,
) -> Result<Snapshot, Error> {
    read_settling(client, namespaces, parallelism, None, wanted, []).await
}

/// [`read`], planning each changefeed as soon as it arrives: one with nothing to do keeps its
/// fingerprint and notes but drops its config, so memory grows with the changes, not the cluster.
/// `named` are changefeeds `wanted` accepts whatever the list says (a manifest names them):
/// their reads start beside the list (see [`Early`]), a few rounds of them: only those few are
/// taken from `named`, so a caller need not copy the keys of all it names.
pub async fn read_settling<'k>(
    client: &Client,
    namespaces: &BTreeSet<String>,
    parallelism: usize,
    settle: Option<Settle<'_>>,
    wanted: Wanted<'_>,
    named: impl IntoIterator<Item = &'k Key>,
) -> Result<Snapshot, Error> {
    let early = Early::start(client, named, parallelism);
    // Status, TSO and the list in one round trip.
    let (status, tso, listed) = tokio::join!(
        client.status(),
        client.tso(),
        list_all(client, namespaces, wanted)
    );
    let status = status.map_err(|e| server_error(client, "reading /api/v2/status", e))?;
    let version = Version::parse(&status.version).unwrap_or(Version::new(8, 5, 0));
    let now_tso = tso
        .map(|t| t.compose())
        .map_err(|e| server_error(client, "reading the current TSO", e))?;
    let mut listed = listed?;
    let arch = if listed.keyspaced {
        Arch::Newarch
    } else if listed.items.is_empty() && listed.listed_only.is_empty() {
        // No changefeed to look at: only classic servers have the meta_info route.
        let probe = client.meta_info("default", "cdcform-probe").await;
        match probe {
            Err(ClientError::Api { status: 404, .. }) => Arch::Newarch,
            _ => Arch::Classic,
        }
    } else {
        Arch::Classic
    };
    if arch != client.arch() {
        client.set_arch(arch);
        listed = list_all(client, namespaces, wanted).await?;
    }
    let profile = ServerProfile {
        arch,
        version,
        raw_version: status.version.clone(),
    };
    // Outside the scope: the key from the list is all that is kept.
    let Listed {
        items,
        listed_only,
        failed: unlisted,
        ..
    } = listed;
    let Fetched {
        changefeeds,
        unreadable,
        ..
    } = read_all(
        client,
        &profile,
        now_tso,
        items,
        early.for_arch(arch),
        settle,
    )
    .await?;
    Ok(Snapshot {
        profile,
        now_tso,
        changefeeds,
        unreadable,
        unlisted,
        listed_only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticdc::models::ChangefeedInfo;
    use crate::ticdc::ClientOptions;

    fn key(i: usize) -> Key {
        Key {
            namespace: "default".into(),
            id: format!("cf-{i:05}"),
        }
    }

    fn api_error(status: u16) -> ClientError {
        ClientError::Api {
            method: "GET".into(),
            path: "/api/v2/changefeeds/x/meta_info".into(),
            status,
            code: "CDC:ErrX".into(),
            message: "x".into(),
            retry_after: None,
        }
    }

    fn read(i: usize) -> Read {
        let l = LiveChangefeed {
            info: ChangefeedInfo {
                id: key(i).id,
                ..Default::default()
            },
            ..Default::default()
        };
        (key(i), Ok(Some(l)))
    }

    /// Every answer taken is kept once, in key order, however many compactions ran; a 5xx is
    /// unreadable, a 404 (gone) is dropped, any other error ends the read.
    #[test]
    fn taken_answers_survive_compaction() {
        let client = Client::new(ClientOptions::new("http://127.0.0.1:1")).unwrap();
        let profile = ServerProfile::default();
        let mut out = Fetched::default();
        let n = 3 * COMPACT_EVERY + 5;
        // Mostly ascending, as answers come, with some out of order.
        let order = (0..n).map(|i| if i % 7 == 0 { n - 1 - i } else { i });
        let mut want = BTreeSet::new();
        for i in order.filter(|i| want.insert(*i)) {
            out.take(&client, &profile, 0, None, key(i).clone(), read(i).1)
                .unwrap();
        }
        out.take(&client, &profile, 0, None, key(n), Err(api_error(503)))
            .unwrap();
        out.take(&client, &profile, 0, None, key(n + 1), Ok(None))
            .unwrap();
        out.compact();
        assert!(out.fresh.is_empty());
        let got: Vec<_> = out
            .changefeeds
            .iter()
            .map(|(k, l)| (k.clone(), l.info.id.clone()))
            .collect();
        let expect: Vec<_> = want.iter().map(|i| (key(*i), key(*i).id)).collect();
        assert_eq!(got, expect);
        assert_eq!(out.unreadable.keys().collect::<Vec<_>>(), [&key(n)]);
        let err = out.take(&client, &profile, 0, None, key(n + 2), Err(api_error(400)));
        assert!(
            err.unwrap_err().to_string().contains("cf-"),
            "names the changefeed"
        );
    }

    /// Answers go on [`BATCH`] at a time; a definitive error goes at once with what was
    /// gathered; what is left when the readers are done stays gathered for the settling side.
    #[tokio::test]
    async fn answers_go_in_batches_and_errors_at_once() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        let gathered = Arc::new(Mutex::new(Vec::new()));
        let answers = Answers {
            gathered: gathered.clone(),
            tx,
        };
        for i in 0..BATCH - 1 {
            assert!(answers.hand_on(read(i)).await);
            assert!(rx.try_recv().is_err(), "not yet a batch");
        }
        assert!(answers.hand_on(read(BATCH - 1)).await);
        assert_eq!(rx.try_recv().unwrap().len(), BATCH);
        assert!(answers.hand_on((key(100), Err(api_error(503)))).await);
        assert!(
            rx.try_recv().is_err(),
            "a transient error waits for its batch"
        );
        assert!(answers.hand_on((key(101), Err(api_error(400)))).await);
        let sent = rx.try_recv().unwrap();
        assert_eq!(
            sent.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            [key(100), key(101)]
        );
        assert!(answers.hand_on(read(200)).await);
        drop(answers);
        assert!(rx.recv().await.is_none(), "closed with the last reader");
        assert_eq!(
            gathered.lock().unwrap().len(),
            1,
            "the rest is left gathered"
        );
    }
}
