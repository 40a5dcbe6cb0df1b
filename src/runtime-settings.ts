/**
 * Imported first by the entry point: before anything else loads, s3d restarts itself once
 * (execve: same process id, same arguments) with settings that Bun reads only at start.
 *
 * MIMALLOC_PURGE_DELAY=1000: Bun allocates with mimalloc, which by default returns freed memory to
 * the kernel 10 ms after it is freed. A server that frees and allocates body buffers all the time
 * then touches fresh pages over and over, and every 4 KiB page costs a page fault: 10-12 µs each on
 * this project's VMs (a paravirtualised guest), ≈370 MiB/s of fresh memory. In a 64 MiB PUT at c=8
 * the server took 244k faults in a run, 107k with a delay of one second, and the rate rose 12 %;
 * the GET and PUT cells used 5-18 % less server CPU a request. A second keeps the gain of never
 * handing memory back (-1: 77k faults) without its cost: idle three seconds after that run the
 * server held 147 MiB, 357 MiB with -1.
 *
 * BUN_JSC_useWarmUpMarkedBlocks=false: by default a JavaScriptCore helper thread ("JSCWarmUp")
 * keeps 32 blocks of the garbage-collected heap resident ahead of need, faulting their pages in
 * and handing idle ones back. After large uploads it took 12-17 % of a core during 4 KiB GETs at
 * c=32, and the server took 1.7-2.4 times the page faults it takes without the thread: on a small
 * machine the main thread lost more CPU to it than it saved. Without it those GETs ran 17 % faster
 * (median of seven alternating pairs, -1 % to +41 %); 4 KiB PUTs and the 64 MiB cells did not
 * change beyond the noise.
 *
 * UV_THREADPOOL_SIZE=8: Bun runs node:fs calls on a pool of as many threads as cores (two here),
 * and on a large upload those threads mostly wait on the disk: direct writes, the early flushes,
 * and the unlink of a superseded blob (28-32 ms for 64 MiB on this project's VMs, whose
 * filesystems discard freed blocks). With two, eight 64 MiB PUTs at once kept them busy 85 % of
 * the time while the CPU had room to spare: with eight the disk gets more calls in flight, and
 * those PUTs ran +1 to +20 % faster in five alternating pairs with unsigned payloads and -4 to +9 %
 * (median +6) in six with signed ones, which use up nearly all the CPU too. 1 MiB PUTs at c=32
 * +4 and +7 %; small PUTs and GETs did not change beyond the noise.
 *
 * A setting already in the environment is left as it is (and so the restart happens at most once).
 */
const runtimeSettings: Readonly<Record<string, string>> = {
  MIMALLOC_PURGE_DELAY: "1000",
  BUN_JSC_useWarmUpMarkedBlocks: "false",
  UV_THREADPOOL_SIZE: "8",
};

function restartWithRuntimeSettings(): void {
  const missing = Object.entries(runtimeSettings).filter(([name]) => process.env[name] === undefined);
  if (missing.length === 0 || typeof process.execve !== "function") return;
  // A compiled s3d's argv[1] is its own bundled entry; run from source it is the script to run.
  const args = Bun.main.startsWith("/$bunfs/") ? process.argv.slice(2) : process.argv.slice(1);
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...args], {
    ...process.env,
    ...Object.fromEntries(missing),
  });
}

restartWithRuntimeSettings();
