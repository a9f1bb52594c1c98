//! Where connections run: the caller's tokio runtime if there is one, else one small process-wide runtime
//! shared by every client (no thread per connection).

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::error::Error;

/// Worker threads of the process-wide runtime.
pub const RUNTIME_WORKERS: usize = 2;
/// Name of the process-wide runtime's threads.
pub const RUNTIME_THREAD_NAME: &str = "websockets-rt";

/// The process-wide runtime, created on first use: [`RUNTIME_WORKERS`] worker threads named
/// [`RUNTIME_THREAD_NAME`], and at most 4 blocking threads (used for DNS lookups).
pub(crate) fn shared() -> Result<&'static Runtime, Error> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(RUNTIME_WORKERS)
        .max_blocking_threads(4)
        .thread_name(RUNTIME_THREAD_NAME)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    // If another thread won the race, its runtime is used and ours is dropped (it never ran anything).
    if let Err(ours) = RUNTIME.set(rt) {
        std::thread::spawn(move || drop(ours));
    }
    Ok(RUNTIME.get().expect("just set"))
}

/// Runs `fut` to completion from synchronous code, on the right runtime, without panicking:
///
/// - inside a multi-thread tokio runtime: on that runtime, blocking this thread with `block_in_place`;
/// - inside a current-thread runtime (which cannot be blocked from within): on the process-wide runtime,
///   this thread waiting for the result;
/// - outside any runtime: on the process-wide runtime.
pub(crate) fn block_on<F, T>(fut: F) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(fut))
        }
        Ok(_) => {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            shared()?.spawn(async move {
                let _ = tx.send(fut.await);
            });
            rx.recv()
                .map_err(|_| Error::Runtime(std::io::Error::other("connect task was cancelled")))?
        }
        Err(_) => shared()?.block_on(fut),
    }
}
