//! [`Broadcaster`]: fan-out of events to subscribers through bounded per-subscriber queues.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use headroom_ipc::{encode_line, Event, Topic};
use parking_lot::Mutex;

/// Capacity of each subscriber's queue, in events. When it is full, further events for
/// that subscriber are dropped and counted, and a `daemon/overflow` event reports the counts.
pub const SUBSCRIBER_QUEUE_CAPACITY: usize = 64;

/// One item of a subscriber's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Queued {
    /// An event, serialised.
    Event(Arc<str>),
    /// A `daemon/overflow` notice, serialised, and the topics whose events it counts (what
    /// the subscriber has to be brought up to date on again).
    Overflow(Arc<str>, Vec<Topic>),
}

/// Publishes events to every subscribed connection.
///
/// Cheap to clone (all clones share the subscriber list). [`Broadcaster::publish`] never
/// blocks on a subscriber: it serialises the event once into a shared `Arc<str>` line and
/// `try_send`s it into each interested subscriber's bounded queue
/// ([`SUBSCRIBER_QUEUE_CAPACITY`]). A full queue increments that subscriber's per-topic drop
/// counter; before the next event reaches that subscriber (or as soon as its queue drains)
/// it receives a `daemon/overflow` event with the counts, which are then reset.
///
/// `publish` allocates and takes short locks: call it from control threads, never from the
/// audio thread.
#[derive(Clone, Default)]
pub struct Broadcaster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcaster")
            .field("subscribers", &self.subscriber_count())
            .finish()
    }
}

#[derive(Default)]
struct Inner {
    subs: Mutex<Vec<Subscriber>>,
    interest: [AtomicUsize; Topic::COUNT],
    next_id: AtomicU64,
    dropped_total: AtomicU64,
    published: AtomicU64,
}

struct Subscriber {
    id: u64,
    topics: [bool; Topic::COUNT],
    tx: Sender<Queued>,
    state: Arc<DropState>,
}

/// Per-subscriber drop counters, shared by the publisher and the subscriber's writer.
#[derive(Default)]
pub(crate) struct DropState {
    dropped: Mutex<[u64; Topic::COUNT]>,
}

fn overflow_notice(dropped: &[u64; Topic::COUNT]) -> Queued {
    let counts: BTreeMap<Topic, u64> = Topic::ALL
        .iter()
        .filter(|t| dropped[t.index()] > 0)
        .map(|t| (*t, dropped[t.index()]))
        .collect();
    let lost = counts.keys().copied().collect();
    Queued::Overflow(Arc::from(encode_line(&Event::overflow(counts))), lost)
}

impl Subscriber {
    /// Offers `line` to this subscriber. Returns `false` when the subscriber is gone.
    fn offer(&self, topic: Topic, line: &Arc<str>, dropped_total: &AtomicU64) -> bool {
        let mut dropped = self.state.dropped.lock();
        if dropped.iter().any(|&n| n > 0) {
            if self.tx.is_full() {
                dropped[topic.index()] += 1;
                dropped_total.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            match self.tx.try_send(overflow_notice(&dropped)) {
                Ok(()) => *dropped = [0; Topic::COUNT],
                Err(TrySendError::Full(_)) => {
                    dropped[topic.index()] += 1;
                    dropped_total.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        match self.tx.try_send(Queued::Event(Arc::clone(line))) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                dropped[topic.index()] += 1;
                dropped_total.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

impl Broadcaster {
    /// A broadcaster without subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes `event` to every subscriber of its topic. Never blocks on a subscriber;
    /// does nothing (not even serialisation) when nobody subscribes to the topic.
    /// Allocates: call from control threads only.
    pub fn publish(&self, event: &Event) {
        let topic = event.topic();
        if self.inner.interest[topic.index()].load(Ordering::Acquire) == 0 {
            return;
        }
        let line: Arc<str> = Arc::from(encode_line(event));
        self.inner.published.fetch_add(1, Ordering::Relaxed);
        let mut subs = self.inner.subs.lock();
        let inner = &*self.inner;
        subs.retain(|s| {
            if !s.topics[topic.index()] {
                return true;
            }
            let alive = s.offer(topic, &line, &inner.dropped_total);
            if !alive {
                inner.forget_interest(&s.topics);
            }
            alive
        });
    }

    /// Number of registered subscribers.
    pub fn subscriber_count(&self) -> usize {
        self.inner.subs.lock().len()
    }

    /// Whether anybody subscribes to `topic` (e.g. to skip building meter ticks).
    pub fn has_subscribers(&self, topic: Topic) -> bool {
        self.inner.interest[topic.index()].load(Ordering::Acquire) > 0
    }

    /// Events dropped for slow subscribers since start, all subscribers and topics.
    pub fn dropped_total(&self) -> u64 {
        self.inner.dropped_total.load(Ordering::Relaxed)
    }

    /// Events serialised and offered to at least one subscriber since start.
    pub fn published_total(&self) -> u64 {
        self.inner.published.load(Ordering::Relaxed)
    }

    /// Registers a subscriber for `topics`. Events published from now on are queued for it.
    pub(crate) fn subscribe(&self, topics: &[Topic]) -> (Registration, SubscriberQueue) {
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_QUEUE_CAPACITY);
        let mut wanted = [false; Topic::COUNT];
        for t in topics {
            wanted[t.index()] = true;
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(DropState::default());
        let mut subs = self.inner.subs.lock();
        for t in Topic::ALL {
            if wanted[t.index()] {
                self.inner.interest[t.index()].fetch_add(1, Ordering::AcqRel);
            }
        }
        subs.push(Subscriber {
            id,
            topics: wanted,
            tx,
            state: Arc::clone(&state),
        });
        (
            Registration {
                broadcaster: self.clone(),
                id,
            },
            SubscriberQueue { rx, state },
        )
    }

    fn unsubscribe(&self, id: u64) {
        let mut subs = self.inner.subs.lock();
        if let Some(pos) = subs.iter().position(|s| s.id == id) {
            let s = subs.swap_remove(pos);
            self.inner.forget_interest(&s.topics);
        }
    }
}

impl Inner {
    fn forget_interest(&self, topics: &[bool; Topic::COUNT]) {
        for (i, wanted) in topics.iter().enumerate() {
            if *wanted {
                self.interest[i].fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

/// Keeps a subscriber registered; dropping it unregisters (which ends the queue once it is
/// drained).
pub(crate) struct Registration {
    broadcaster: Broadcaster,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.broadcaster.unsubscribe(self.id);
    }
}

/// The receiving end of one subscriber's queue.
pub(crate) struct SubscriberQueue {
    rx: Receiver<Queued>,
    state: Arc<DropState>,
}

impl SubscriberQueue {
    /// Waits for the next item; `None` once unregistered and drained.
    pub(crate) fn recv(&self) -> Option<Queued> {
        self.rx.recv().ok()
    }

    /// When the queue is empty and events were dropped, takes the counts as an overflow
    /// notice (so a reader that caught up learns about the loss without waiting for the next
    /// event).
    pub(crate) fn overflow_if_idle(&self) -> Option<Queued> {
        let mut dropped = self.state.dropped.lock();
        if self.rx.is_empty() && dropped.iter().any(|&n| n > 0) {
            let notice = overflow_notice(&dropped);
            *dropped = [0; Topic::COUNT];
            Some(notice)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use headroom_ipc::{decode_server_frame, ServerFrame, SettingValue};

    fn event(i: i64) -> Event {
        Event::setting_changed("k", SettingValue::Int(i), true)
    }

    fn decode(item: &Queued) -> Event {
        let line = match item {
            Queued::Event(l) | Queued::Overflow(l, _) => l,
        };
        match decode_server_frame(line.trim_end().as_bytes()) {
            Ok(ServerFrame::Event(e)) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn events_reach_only_interested_subscribers_sharing_one_line() {
        let b = Broadcaster::new();
        let (_ra, qa) = b.subscribe(&[Topic::Settings]);
        let (_rb, qb) = b.subscribe(&[Topic::Settings, Topic::Meters]);
        let (_rc, qc) = b.subscribe(&[Topic::Meters]);
        b.publish(&event(1));
        let (Some(Queued::Event(la)), Some(Queued::Event(lb))) = (qa.recv(), qb.recv()) else {
            panic!("events expected")
        };
        assert!(Arc::ptr_eq(&la, &lb), "one serialisation shared");
        assert_eq!(decode(&Queued::Event(la)), event(1));
        assert!(qc.rx.is_empty());
        assert_eq!(b.published_total(), 1);
    }

    #[test]
    fn nothing_is_serialised_without_subscribers() {
        let b = Broadcaster::new();
        b.publish(&event(1));
        assert_eq!(b.published_total(), 0);
        let (reg, _q) = b.subscribe(&[Topic::Meters]);
        assert!(b.has_subscribers(Topic::Meters));
        b.publish(&event(2));
        assert_eq!(b.published_total(), 0);
        drop(reg);
        assert!(!b.has_subscribers(Topic::Meters));
        assert_eq!(b.subscriber_count(), 0);
    }

    #[test]
    fn overflow_is_counted_and_reported_before_next_event() {
        let b = Broadcaster::new();
        let (_r, q) = b.subscribe(&[Topic::Settings]);
        let n = SUBSCRIBER_QUEUE_CAPACITY as i64;
        for i in 0..n + 10 {
            b.publish(&event(i));
        }
        assert_eq!(b.dropped_total(), 10);
        // Drain one slot: the next publish must deliver the overflow notice first.
        assert_eq!(decode(&q.recv().unwrap()), event(0));
        b.publish(&event(1000));
        // Queue is full again; that event was dropped too (the notice took the slot).
        let mut seen = Vec::new();
        while let Ok(item) = q.rx.try_recv() {
            if let Queued::Overflow(_, lost) = &item {
                assert_eq!(
                    lost,
                    &[Topic::Settings],
                    "the topics lost go with the notice"
                );
            }
            seen.push(decode(&item));
        }
        let Event::Overflow(o) = seen.last().unwrap() else {
            panic!("last is not overflow: {:?}", seen.last())
        };
        assert_eq!(o.dropped.get(&Topic::Settings), Some(&10));
        assert_eq!(seen.len(), SUBSCRIBER_QUEUE_CAPACITY);
        // The event dropped while the notice took the last slot is reported when idle.
        let notice = q
            .overflow_if_idle()
            .expect("pending drop reported when idle");
        let Event::Overflow(o) = decode(&notice) else {
            panic!()
        };
        assert_eq!(o.dropped.get(&Topic::Settings), Some(&1));
        assert!(q.overflow_if_idle().is_none());
        b.publish(&event(7));
        assert_eq!(decode(&q.recv().unwrap()), event(7));
    }

    #[test]
    fn disconnected_subscribers_are_pruned() {
        let b = Broadcaster::new();
        let (reg, q) = b.subscribe(&[Topic::Settings]);
        drop(q);
        b.publish(&event(1));
        assert_eq!(b.subscriber_count(), 0);
        assert!(!b.has_subscribers(Topic::Settings));
        drop(reg);
        assert_eq!(b.subscriber_count(), 0);
    }
}
