/// The whole `tokenreel run --help` text at 80 columns: a tested contract. If a change to the
/// options is intended, paste the new text here (and update the README).
enum RunHelpSnapshot {
    static let text = """
OVERVIEW: Label every video under a directory; write one JSON per video,
manifest.jsonl and summary.json.

Results go to OUT_DIR/<path relative to INPUT_DIR>.json, written atomically. A
re-run skips inputs whose result was made by the same model and pipeline from
the same file (--force redoes them). Logs and progress go to stderr; nothing is
written to stdout.

Sharding: --shard I/N takes a stable, path-hashed share of the inputs. Without
it the shard comes from JOB_COMPLETION_INDEX with TOKENREEL_SHARD_COUNT
(Kubernetes Indexed Jobs) or SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT
(Slurm arrays). A sharded run writes manifest.shard-I-of-N.jsonl and
summary.shard-I-of-N.json; join them with 'tokenreel merge'.

Ctrl-C (or SIGTERM) once: finish the videos in flight, write manifest and
summary, exit 130. Twice: exit at once. Neither leaves a partial JSON file.

Exit codes: 0 every input labelled; 1 some inputs failed (all others written);
2 usage or configuration error; 130 interrupted.

USAGE: tokenreel run <input-dir> --output <out-dir> [--pipeline <file>] [--shard <i/n>] [--force] [--progress <progress>] [--log-level <log-level>]

ARGUMENTS:
  <input-dir>             Directory to label, searched recursively (symlinks
                          followed).

OPTIONS:
  -o, --output <out-dir>  Directory for results, manifest and summary.
  --pipeline <file>       Pipeline file (default: pipelines/default.yaml, see
                          docs/pipelines.md).
  --shard <i/n>           Take shard I of N (0 <= I < N), e.g. 0/4.
  --force                 Redo inputs that already have a result from the same
                          model and pipeline.
  --progress <progress>   Progress on stderr: auto (a bar on a terminal, plain
                          lines otherwise), always, never. (values: auto,
                          always, never; default: auto)
  --log-level <log-level> Log level on stderr: trace, debug, info, notice,
                          warning, error, critical. (values: trace, debug,
                          info, notice, warning, error, critical; default: info)
  --version               Show the version.
  -h, --help              Show help information.


"""
}
