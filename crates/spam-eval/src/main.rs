//! `spam-eval`: k-fold cross-validation of the spam decision over labelled
//! folders (bench/spam-eval runs it on ../shared/data/spam-train).
//!
//! Each message is read and analysed once (havre-content, then the Bayes
//! tokens); the messages of each class are shuffled (a fixed seed) and dealt
//! into k folds; for each fold a fresh scorer learns the other folds and
//! judges this one. Printed: precision, recall, F1 and the false-positive
//! rate of the decisions, the same figures for other thresholds, and the CPU
//! time per message of each step (analysis, tokens, classification) on one
//! thread, with the messages per second that makes.

mod cpu;
mod metrics;
mod scorer;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use havre_bayes::{Params, tokenize};
use havre_content::{Limits, analyze};

use metrics::Confusion;
use scorer::{BayesScorer, FilterScorer, Sample, Scorer, is_spam};

#[derive(Parser)]
#[command(about = "k-fold cross-validation of the spam decision over labelled folders")]
struct Args {
    /// A labelled corpus: DIR/ham and DIR/spam (repeatable)
    #[arg(long, value_name = "DIR")]
    corpus: Vec<PathBuf>,
    /// A folder of ham (files, or a Maildir; repeatable)
    #[arg(long, value_name = "DIR")]
    ham: Vec<PathBuf>,
    /// A folder of spam (files, or a Maildir; repeatable)
    #[arg(long, value_name = "DIR")]
    spam: Vec<PathBuf>,
    /// Number of folds
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of the shuffle
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Spam when the score is above this (default: 0.9 for --bayes-only,
    /// else the filter's spam.junk_above, 5)
    #[arg(long)]
    threshold: Option<f64>,
    /// Decide on the Bayes probability alone instead of the whole filter
    /// (havre-filter's symbols without DNS, with the fold's Bayes counts)
    #[arg(long)]
    bayes_only: bool,
    /// Robinson's strength (k)
    #[arg(long)]
    strength: Option<f64>,
    /// Tokens closer than this to 0.5 are ignored
    #[arg(long)]
    min_deviation: Option<f64>,
    /// At most this many tokens are combined
    #[arg(long)]
    max_tokens: Option<usize>,
    /// Tokens learned fewer times are ignored
    #[arg(long)]
    min_token_count: Option<u32>,
    /// Also list the messages decided wrongly (file, score, subject)
    #[arg(long)]
    show_errors: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut ham_dirs = args.ham.clone();
    let mut spam_dirs = args.spam.clone();
    for corpus in &args.corpus {
        ham_dirs.push(corpus.join("ham"));
        spam_dirs.push(corpus.join("spam"));
    }
    if ham_dirs.is_empty() || spam_dirs.is_empty() {
        bail!("give labelled folders: --corpus DIR, or --ham DIR and --spam DIR");
    }
    if args.folds < 2 {
        bail!("--folds must be at least 2");
    }
    let mut files = Vec::new();
    for dir in &ham_dirs {
        files.extend(message_files(dir)?.into_iter().map(|f| (f, false)));
    }
    for dir in &spam_dirs {
        files.extend(message_files(dir)?.into_iter().map(|f| (f, true)));
    }

    // Read and analyse every message once, timing each step on this thread.
    let limits = Limits::default();
    let mut samples = Vec::with_capacity(files.len());
    let (mut analysis, mut tokens_time) = (Duration::ZERO, Duration::ZERO);
    let mut bytes = 0usize;
    for (path, spam) in &files {
        let raw = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        bytes += raw.len();
        let t0 = cpu::thread_time();
        let content = analyze(&raw, &limits);
        let t1 = cpu::thread_time();
        let tokens = tokenize(&content);
        let t2 = cpu::thread_time();
        analysis += t1 - t0;
        tokens_time += t2 - t1;
        samples.push(Sample {
            content,
            tokens,
            spam: *spam,
        });
    }
    let hams = samples.iter().filter(|s| !s.spam).count();
    let spams = samples.len() - hams;
    if hams < args.folds || spams < args.folds {
        bail!(
            "{hams} ham and {spams} spam: too few for {} folds",
            args.folds
        );
    }

    let defaults = Params::default();
    let params = Params {
        strength: args.strength.unwrap_or(defaults.strength),
        min_deviation: args.min_deviation.unwrap_or(defaults.min_deviation),
        max_tokens: args.max_tokens.unwrap_or(defaults.max_tokens),
        min_token_count: args.min_token_count.unwrap_or(defaults.min_token_count),
        ..defaults
    };
    let folds = deal(&samples, args.folds, args.seed);
    let threshold = args
        .threshold
        .unwrap_or(if args.bayes_only { 0.9 } else { 5.0 });
    let mut scorer: Box<dyn Scorer> = if args.bayes_only {
        Box::new(BayesScorer::new(params, threshold))
    } else {
        Box::new(FilterScorer::new(params, threshold))
    };
    let mut scores = vec![0.0f64; samples.len()];
    let mut wrong = Vec::new();
    let mut classify_time = Duration::ZERO;
    let mut learn_time = Duration::ZERO;
    let wall = Instant::now();
    for fold in 0..args.folds {
        scorer.reset();
        let t0 = cpu::thread_time();
        for (i, sample) in samples.iter().enumerate() {
            if folds[i] != fold {
                scorer.learn(sample);
            }
        }
        let t1 = cpu::thread_time();
        learn_time += t1 - t0;
        for (i, sample) in samples.iter().enumerate() {
            if folds[i] == fold {
                let t0 = cpu::thread_time();
                let verdict = scorer.score(sample);
                classify_time += cpu::thread_time() - t0;
                scores[i] = verdict.score;
                if verdict.spam != sample.spam {
                    wrong.push(i);
                }
            }
        }
    }
    let cv_wall = wall.elapsed();

    let confusion = |threshold: f64| {
        let mut c = Confusion::default();
        for (sample, &score) in samples.iter().zip(&scores) {
            c.add(sample.spam, is_spam(score, threshold));
        }
        c
    };
    let n = samples.len() as f64;
    let per_message = |d: Duration| d.as_secs_f64() * 1000.0 / n;
    let total = analysis + tokens_time + classify_time;
    let c = confusion(threshold);
    println!(
        "corpus: {hams} ham, {spams} spam ({:.1} MB), {} folds, seed {}",
        bytes as f64 / 1e6,
        args.folds,
        args.seed
    );
    println!(
        "params: strength {} min_deviation {} max_tokens {} min_token_count {}; threshold {}",
        params.strength, params.min_deviation, params.max_tokens, params.min_token_count, threshold
    );
    println!(
        "precision {:.4}  recall {:.4}  F1 {:.4}  false positives {:.2} % ({} of {} ham)  missed spam {}",
        c.precision(),
        c.recall(),
        c.f1(),
        c.false_positive_rate() * 100.0,
        c.false_spam,
        hams,
        c.missed_spam
    );
    println!(
        "CPU per message: analysis {:.3} ms, tokens {:.3} ms, classification {:.3} ms, total {:.3} ms \
         => {:.0} messages/s on one thread; learning {:.3} ms per message learned; CV wall {:.1} s",
        per_message(analysis),
        per_message(tokens_time),
        per_message(classify_time),
        per_message(total),
        n / total.as_secs_f64(),
        learn_time.as_secs_f64() * 1000.0 / (n * (args.folds - 1) as f64),
        cv_wall.as_secs_f64()
    );
    println!("threshold  precision  recall  F1      FP %   FP  missed");
    let sweep: &[f64] = if args.bayes_only {
        &[
            0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999,
        ]
    } else {
        &[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 15.0]
    };
    for &threshold in sweep {
        let c = confusion(threshold);
        println!(
            "{threshold:<9}  {:.4}     {:.4}  {:.4}  {:.2}  {:>3}  {:>5}",
            c.precision(),
            c.recall(),
            c.f1(),
            c.false_positive_rate() * 100.0,
            c.false_spam,
            c.missed_spam
        );
    }
    if args.show_errors {
        wrong.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        for i in wrong {
            let sample = &samples[i];
            println!(
                "{} {:.4} {:>5} tokens  {}  {:?}",
                if sample.spam {
                    "missed spam"
                } else {
                    "false spam "
                },
                scores[i],
                sample.tokens.len(),
                files[i].0.display(),
                sample.content.subject().unwrap_or("")
            );
        }
    }
    Ok(())
}

/// The fold of each sample: each class shuffled with `seed` and dealt in
/// turn, so every fold has its share of ham and of spam.
fn deal(samples: &[Sample], folds: usize, seed: u64) -> Vec<usize> {
    let mut out = vec![0; samples.len()];
    let mut state = seed;
    for spam in [false, true] {
        let mut indices: Vec<usize> = (0..samples.len())
            .filter(|&i| samples[i].spam == spam)
            .collect();
        for i in (1..indices.len()).rev() {
            let j = (splitmix(&mut state) % (i as u64 + 1)) as usize;
            indices.swap(i, j);
        }
        for (n, &i) in indices.iter().enumerate() {
            out[i] = n % folds;
        }
    }
    out
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The message files of a folder: its files, or a Maildir's cur/ and new/
/// (and those of its sub-folders), in name order; dot files left out.
fn message_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                if name != "tmp" {
                    stack.push(path);
                }
            } else if kind.is_file() && !name.starts_with('.') && !is_maildir_control(&name) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Dovecot's and Maildir++'s own files, which are not messages.
fn is_maildir_control(name: &str) -> bool {
    name.starts_with("dovecot") || matches!(name, "maildirfolder" | "subscriptions" | "maildirsize")
}
