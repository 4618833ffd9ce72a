//! The news the polling endpoints hand out: a bounded ring of numbered items plus a signal
//! that wakes long-poll requests when an item arrives.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Items kept for late pollers; older ones are forgotten (a poller that fell behind by more
/// sees a jump in ids, which is what a real news feed does too).
pub const KEPT_ITEMS: usize = 64;
/// Items returned by one answer at most, so one response stays small: the newest ones, so
/// that a poller that fell behind (a new round of the demo asks from 0) catches up in one
/// answer and its next long poll waits for news.
pub const MAX_ITEMS_PER_ANSWER: usize = 16;
/// Longest news text kept (bytes); `POST /send` bodies are cut to this.
pub const MAX_TEXT: usize = 1024;

/// One news item. Ids start at 1 and increase by one per item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: u64,
    pub text: String,
}

/// The JSON body of a `/poll` or `/long-poll` answer that has news.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Ask again with `since=next` to get only newer items.
    pub next: u64,
    pub news: Vec<Item>,
}

/// Shared news feed. Cloning shares the same feed.
#[derive(Clone)]
pub struct News {
    items: Arc<Mutex<VecDeque<Item>>>,
    latest: Arc<watch::Sender<u64>>,
}

impl News {
    pub fn new() -> Self {
        News {
            items: Arc::new(Mutex::new(VecDeque::with_capacity(KEPT_ITEMS))),
            latest: Arc::new(watch::Sender::new(0)),
        }
    }

    /// Adds an item (text cut to [`MAX_TEXT`] bytes at a char boundary) and wakes waiters.
    /// Returns its id.
    pub fn publish(&self, text: &str) -> u64 {
        let mut cut = text.len().min(MAX_TEXT);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = text.get(..cut).unwrap_or_default().to_owned();
        // A panic while holding the lock cannot leave the ring inconsistent (every change is a
        // single push or pop), so a poisoned lock is still safe to use.
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let id = items.back().map_or(1, |last| last.id + 1);
        if items.len() == KEPT_ITEMS {
            items.pop_front();
        }
        items.push_back(Item { id, text });
        drop(items);
        self.latest.send_replace(id);
        id
    }

    /// The newest [`MAX_ITEMS_PER_ANSWER`] items with an id greater than `since`, oldest
    /// first.
    pub fn since(&self, since: u64) -> Vec<Item> {
        let items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        let newer = items.iter().filter(|i| i.id > since).count();
        items
            .iter()
            .filter(|i| i.id > since)
            .skip(newer.saturating_sub(MAX_ITEMS_PER_ANSWER))
            .cloned()
            .collect()
    }

    /// Waits until there is an item newer than `since` or `timeout` passes; returns the items
    /// (empty on timeout).
    pub async fn wait_since(&self, since: u64, timeout: std::time::Duration) -> Vec<Item> {
        let mut latest = self.latest.subscribe();
        let wait = latest.wait_for(|&id| id > since);
        // The sender lives as long as `self`, so `wait_for` ends only by a new item.
        let _ = tokio::time::timeout(timeout, wait).await;
        self.since(since)
    }
}

impl Default for News {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ids_increase_and_old_items_are_forgotten() {
        let news = News::new();
        for i in 0..KEPT_ITEMS + 3 {
            assert_eq!(news.publish(&format!("n{i}")), i as u64 + 1);
        }
        let all = news.since(0);
        assert_eq!(all.len(), MAX_ITEMS_PER_ANSWER);
        // The newest ones: a poller that fell behind catches up in one answer.
        let newest = (KEPT_ITEMS + 3) as u64;
        assert_eq!(all[0].id, newest + 1 - MAX_ITEMS_PER_ANSWER as u64);
        assert_eq!(all.last().map(|i| i.id), Some(newest));
        assert_eq!(news.since(newest - 2).len(), 2);
        assert_eq!(news.since(KEPT_ITEMS as u64 + 2).len(), 1);
        assert!(news.since(KEPT_ITEMS as u64 + 3).is_empty());
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let news = News::new();
        let text = "가".repeat(MAX_TEXT); // 3 bytes each
        news.publish(&text);
        let kept = &news.since(0)[0].text;
        assert!(kept.len() <= MAX_TEXT && kept.len() > MAX_TEXT - 3);
        assert!(kept.chars().all(|c| c == '가'));
    }

    #[tokio::test]
    async fn wait_since_wakes_on_publish_and_times_out_without() {
        let news = News::new();
        assert!(news.wait_since(0, Duration::ZERO).await.is_empty());
        let waiter = {
            let news = news.clone();
            tokio::spawn(async move { news.wait_since(0, Duration::from_secs(60)).await })
        };
        news.publish("hello");
        let got = waiter.await.unwrap();
        assert_eq!(
            got,
            vec![Item {
                id: 1,
                text: "hello".into()
            }]
        );
    }
}
