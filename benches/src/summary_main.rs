//! bench-summary: the last step of `make bench`. Reads every benchmark's JSON
//! under `--dir`, writes summary.txt and summary.json there, prints the table.
//! Missing inputs become "not run" rows; it fails only if it cannot write.

use anyhow::{Context, Result};
use berth_bench::summary::{seconds_since_stamp, summarize, Timing};
use clap::Parser;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "bench-summary",
    about = "One table of every `make bench` figure beside its goal"
)]
struct Args {
    /// Where the benchmarks wrote their JSON (and where the summary goes).
    #[arg(long, default_value = "target/bench")]
    dir: PathBuf,
    /// Output name of the simulator run to include (`sim-full` after `make bench-full`).
    #[arg(long, default_value = "sim-short")]
    sim: String,
    /// File holding `date +%s` from the start of `make bench` (builds included).
    #[arg(long)]
    started_at: Option<PathBuf>,
    /// File holding `date +%s` from when the builds were done.
    #[arg(long)]
    built_at: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let timing = Timing {
        total_seconds: args.started_at.as_deref().and_then(seconds_since_stamp),
        benchmarks_seconds: args.built_at.as_deref().and_then(seconds_since_stamp),
    };
    let summary = summarize(&args.dir, &args.sim, timing);
    summary
        .write(&args.dir)
        .with_context(|| format!("writing the summary into {}", args.dir.display()))?;
    println!("{}", summary.text());
    eprintln!("written to {}/summary.{{txt,json}}", args.dir.display());
    Ok(())
}
