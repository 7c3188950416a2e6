"""Peers for `tokenreel bench decode`: PyAV and decord on the same files and the same frames.

For each file and tool prints one JSON line:
  {"file": ..., "tool": "pyav"|"decord", "seconds": [wall, per repeat], "cpu": [CPU s, per repeat],
   "median": wall median, "cpu_median": CPU median, "pts": [picked frame times, s]}
or {"file": ..., "tool": ..., "error": "..."} when the tool fails on the file.

Both take T frames spread evenly over the video (MMAction2 test-mode sampling) at SIZE x SIZE RGB:
  pyav   decodes forward and picks, for each target time start + (i + 0.5) * duration / T, the
         frame whose presentation interval holds it (the same rule as TokenReel), converting only those;
  decord VideoReader(path, width=SIZE, height=SIZE).get_batch(floor((i + 0.5) * len / T)).
"""
import argparse
import json
import statistics
import sys
import time


def pyav_clip(path, frames, size, threads):
    import av
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_count = threads
        stream.thread_type = "AUTO" if threads > 1 else "SLICE"
        tb = float(stream.time_base)
        start = stream.start_time * tb if stream.start_time is not None else 0.0
        duration = stream.duration * tb if stream.duration else container.duration / 1e6 - start
        targets = [start + (i + 0.5) * duration / frames for i in range(frames)]
        picked, pts, prev, k = [], [], None, 0
        for frame in container.decode(stream):
            t = frame.time
            while k < frames and prev is not None and targets[k] < t - 1e-9:
                picked.append(prev.reformat(width=size, height=size, format="rgb24").to_ndarray())
                pts.append(prev.time)
                k += 1
            if k == frames:
                break
            prev = frame
        while k < frames and prev is not None:
            picked.append(prev.reformat(width=size, height=size, format="rgb24").to_ndarray())
            pts.append(prev.time)
            k += 1
        return pts


def decord_clip(path, frames, size, threads):
    import decord
    vr = decord.VideoReader(path, ctx=decord.cpu(0), width=size, height=size, num_threads=threads)
    n = len(vr)
    indices = [int((i + 0.5) * n / frames) for i in range(frames)]
    batch = vr.get_batch(indices).asnumpy()
    assert batch.shape == (frames, size, size, 3)
    return [float(t) for t in vr.get_frame_timestamp(indices)[:, 0]]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tools", default="pyav,decord")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    tools = {"pyav": pyav_clip, "decord": decord_clip}
    for path in args.files:
        for name in args.tools.split(","):
            record = {"file": path, "tool": name}
            try:
                seconds, cpu = [], []
                for _ in range(args.repeat):
                    began, began_cpu = time.perf_counter(), time.process_time()
                    pts = tools[name](path, args.frames, args.size, args.threads)
                    seconds.append(time.perf_counter() - began)
                    cpu.append(time.process_time() - began_cpu)
                record.update(seconds=seconds, cpu=cpu, median=statistics.median(seconds),
                              cpu_median=statistics.median(cpu), pts=pts)
            except Exception as error:  # a peer failing on a file is a result, not a crash
                record["error"] = f"{type(error).__name__}: {error}"
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    sys.exit(main())
