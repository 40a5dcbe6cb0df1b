/**
 * Imported first by the entry point: before anything else loads, s3d restarts itself once
 * (execve: same process id, same arguments) with its allocator told to keep freed memory for a
 * second before handing it back to the kernel.
 *
 * Bun allocates with mimalloc, which by default returns freed memory to the kernel 10 ms after it
 * is freed. A server that frees and allocates body buffers all the time then touches fresh pages
 * over and over, and every 4 KiB page costs a page fault: 10-12 µs each on this project's VMs
 * (a paravirtualised guest), ≈370 MiB/s of fresh memory. In a 64 MiB PUT at c=8 the server took
 * 244k faults in a run, 107k with a delay of one second, and the rate rose 12 %; the GET and
 * PUT cells used 5-18 % less server CPU a request. A second keeps the gain of never handing
 * memory back (-1: 77k faults) without its cost: idle three seconds after that run the server
 * held 147 MiB, 357 MiB with -1.
 *
 * A MIMALLOC_PURGE_DELAY already in the environment is left as it is (and so the restart
 * happens at most once).
 */
const allocatorPurgeDelayMs = 1000;

function restartWithAllocatorSettings(): void {
  if (process.env.MIMALLOC_PURGE_DELAY !== undefined || typeof process.execve !== "function") return;
  // A compiled s3d's argv[1] is its own bundled entry; run from source it is the script to run.
  const args = Bun.main.startsWith("/$bunfs/") ? process.argv.slice(2) : process.argv.slice(1);
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...args], {
    ...process.env,
    MIMALLOC_PURGE_DELAY: String(allocatorPurgeDelayMs),
  });
}

restartWithAllocatorSettings();
