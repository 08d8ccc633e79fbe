//! Interrupts as levels any long-running work can await: the first SIGINT/SIGTERM asks for a
//! graceful stop (start nothing new, finish what is in flight), the second for a forceful one
//! (abort in-flight sequences, but still resume what was paused), the third for an immediate
//! one (stop even those resumes). Nothing here exits the process; `main` does.

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<u8>>,
    /// The name of the last signal [`Shutdown::listen`] counted, for the log.
    cause: Arc<std::sync::Mutex<Option<&'static str>>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown {
            tx: Arc::new(watch::channel(0).0),
            cause: Arc::default(),
        }
    }

    /// One more interrupt (what a signal does; tests call it directly). Returns the new level.
    pub fn signal(&self) -> u8 {
        let mut level = 0;
        self.tx.send_modify(|l| {
            *l = l.saturating_add(1);
            level = *l;
        });
        level
    }

    /// The last signal counted (`SIGTERM`, `SIGINT`), or `None` when the level was raised
    /// by a call to [`Shutdown::signal`].
    pub fn cause(&self) -> Option<&'static str> {
        *self.cause.lock().unwrap()
    }

    pub fn level(&self) -> u8 {
        *self.tx.borrow()
    }

    pub fn is_graceful(&self) -> bool {
        self.level() >= 1
    }

    async fn reached(&self, level: u8) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|l| *l >= level).await;
    }

    /// Resolves on the first interrupt.
    pub async fn graceful(&self) {
        self.reached(1).await
    }

    /// Resolves on the second interrupt.
    pub async fn forceful(&self) {
        self.reached(2).await
    }

    /// Resolves on the third interrupt.
    pub async fn immediate(&self) {
        self.reached(3).await
    }

    /// Count SIGINT and SIGTERM in the background; `announce` is told each new level.
    pub fn listen(&self, announce: impl Fn(u8) + Send + 'static) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            loop {
                let name = match &mut term {
                    Some(t) => {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => "SIGINT",
                            _ = t.recv() => "SIGTERM",
                        }
                    }
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                        "SIGINT"
                    }
                };
                *this.cause.lock().unwrap() = Some(name);
                announce(this.signal());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn levels_resolve_in_order() {
        let s = Shutdown::new();
        assert!(!s.is_graceful());
        assert_eq!(s.signal(), 1);
        s.graceful().await;
        let forced = tokio::time::timeout(std::time::Duration::from_millis(20), s.forceful()).await;
        assert!(forced.is_err(), "forceful before the second signal");
        s.signal();
        s.forceful().await;
        assert_eq!(s.level(), 2);
    }
}
