//! Group commit for the embedded store: many event batches, one durable commit.
//!
//! Each `POST /v1/events` used to pay one fsync of its own, which caps ingest at the
//! disk's sync rate. Here one writer thread owns event writes: callers hand their
//! batch over and wait; the writer takes every batch waiting (up to
//! [`MAX_GROUP`]), applies them all in one redb write transaction, commits it with
//! immediate durability, and only then answers each caller. A caller therefore
//! still hears "done" only once its batch is on disk, and a crash loses none of the
//! acknowledged batches; a batch that fails validation never reaches the writer.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use redb::Database;

use super::{Recorded, apply_batch};
use crate::error::{Error, Result};
use crate::schema::AffinitySettings;

/// Most batches committed together.
pub const MAX_GROUP: usize = 512;
/// Batches waiting for the writer at most; callers beyond wait to hand theirs over.
const QUEUE: usize = 4_096;

struct Job {
    batch: Vec<Recorded>,
    settings: AffinitySettings,
    done: SyncSender<Result<(), String>>,
}

/// The writer thread and the way to it.
pub struct GroupWriter {
    queue: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl GroupWriter {
    pub fn start(db: Arc<Database>) -> Result<GroupWriter> {
        let (queue, jobs) = sync_channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("clerk-event-writer".into())
            .spawn(move || write_loop(&db, &jobs))
            .map_err(|e| Error::io("starting the event writer", e))?;
        Ok(GroupWriter {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Hands `batch` to the writer and waits until it is durable.
    pub fn record(&self, batch: &[Recorded], settings: &AffinitySettings) -> Result<()> {
        let (done, answer) = sync_channel(1);
        let job = Job {
            batch: batch.to_vec(),
            settings: settings.clone(),
            done,
        };
        let stopped = || Error::Internal("the event writer has stopped".into());
        self.queue
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        match answer.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(Error::Internal(message)),
            Err(_) => Err(stopped()),
        }
    }
}

impl Drop for GroupWriter {
    fn drop(&mut self) {
        // Closing the queue ends the loop once it is drained; joining releases the
        // database, so the file can be opened again at once.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_loop(db: &Database, jobs: &Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let outcome = commit_group(db, &group).map_err(|e| e.to_string());
        for job in group {
            let _ = job.done.send(outcome.clone());
        }
    }
}

fn commit_group(db: &Database, group: &[Job]) -> Result<()> {
    let storage = |what: &'static str| {
        move |e: redb::Error| Error::Internal(format!("shopper store: {what}: {e}"))
    };
    let txn = db.begin_write().map_err(|e| storage("begin")(e.into()))?;
    for job in group {
        apply_batch(&txn, &job.batch, &job.settings)?;
    }
    txn.commit().map_err(|e| storage("commit")(e.into()))
}
