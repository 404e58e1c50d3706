//! backprop's differential fuzzer.
//!
//! Generates random programs over the language `#[differentiate]` supports,
//! builds each with the macro in a scratch crate, and checks every generated
//! entry point (`forward`, `backward` with seeds other than one, `pullback`,
//! `forward_into`/`backward_into`, `grad`, `jacobian`) against an independent
//! oracle: the same program printed over forward-mode dual numbers.
//!
//! ```text
//! cargo run --release -- --seed 1 --count 500        # 500 programs, tally
//! cargo run --release -- --program 123456789 --show  # one program, printed
//! cargo run --release -- --seed 7 --count 200 --shrink
//! ```

mod ast;
mod gen;
mod harness;
mod print;
mod shrink;

use ast::Program;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Refusals the README documents: a program the generator writes that the
/// macro refuses with one of these is expected, not a bug. Each entry is a
/// piece of the message.
const DOCUMENTED_REFUSALS: &[&str] = &[];

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Pass,
    Skip(String),
    Wrong(String),
    Refused(String),
    Miscompile(String),
    MacroPanic(String),
    RuntimePanic(String),
    /// The fuzzer's own fault: the oracle or the check does not compile, or
    /// the plain function panics.
    Invalid(String),
}

impl Outcome {
    fn kind(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Skip(_) => "skipped",
            Outcome::Wrong(_) => "wrong value or gradient",
            Outcome::Refused(m) if documented(m) => "refused (documented)",
            Outcome::Refused(_) => "refused (undocumented)",
            Outcome::Miscompile(_) => "generated code does not compile",
            Outcome::MacroPanic(_) => "macro panic",
            Outcome::RuntimePanic(_) => "runtime panic",
            Outcome::Invalid(_) => "invalid program (fuzzer bug)",
        }
    }

    fn is_failure(&self) -> bool {
        match self {
            Outcome::Pass | Outcome::Skip(_) => false,
            Outcome::Refused(m) => !documented(m),
            _ => true,
        }
    }

    fn detail(&self) -> &str {
        match self {
            Outcome::Pass => "",
            Outcome::Skip(m)
            | Outcome::Wrong(m)
            | Outcome::Refused(m)
            | Outcome::Miscompile(m)
            | Outcome::MacroPanic(m)
            | Outcome::RuntimePanic(m)
            | Outcome::Invalid(m) => m,
        }
    }

    /// Whether a shrunk candidate still fails the way the original did.
    fn same_failure(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Refused(a), Outcome::Refused(b)) => a == b,
            (Outcome::Miscompile(a), Outcome::Miscompile(b)) => error_code(a) == error_code(b),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

fn documented(message: &str) -> bool {
    DOCUMENTED_REFUSALS.iter().any(|d| message.contains(d))
}

fn error_code(message: &str) -> &str {
    message.split(']').next().unwrap_or(message)
}

struct Options {
    seed: u64,
    count: u64,
    batch: usize,
    program: Option<u64>,
    show: bool,
    shrink: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut o = Options {
        seed: 1,
        count: 100,
        batch: 100,
        program: None,
        show: false,
        shrink: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} takes a number"))
        };
        match a.as_str() {
            "--seed" => o.seed = value("--seed")?,
            "--count" => o.count = value("--count")?,
            "--batch" => o.batch = value("--batch")?.max(1) as usize,
            "--program" => o.program = Some(value("--program")?),
            "--show" => o.show = true,
            "--shrink" => o.shrink = true,
            "--help" | "-h" => {
                return Err("usage: backprop-fuzz [--seed S] [--count N] [--batch B] [--program SEED [--show]] [--shrink]".into())
            }
            other => return Err(format!("unknown argument {other}; see --help")),
        }
    }
    Ok(o)
}

fn main() {
    let options = match parse_options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let scratch = match Scratch::create() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot set up the scratch crate: {e}");
            std::process::exit(2);
        }
    };
    let seeds: Vec<u64> = match options.program {
        Some(p) => vec![p],
        None => (0..options.count)
            .map(|k| gen::program_seed(options.seed, k))
            .collect(),
    };
    if options.show {
        for &s in &seeds {
            let p = gen::program(s);
            let (text, _) = harness::write_main(&[(format!("p{s}"), p)]);
            println!("{text}");
        }
        return;
    }
    let start = Instant::now();
    let mut tally: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut skips: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures: Vec<(Program, Outcome)> = Vec::new();
    for chunk in seeds.chunks(options.batch) {
        let programs: Vec<Program> = chunk.iter().map(|&s| gen::program(s)).collect();
        let outcomes = scratch.run(&programs);
        for (p, o) in programs.into_iter().zip(outcomes) {
            *tally.entry(o.kind()).or_default() += 1;
            if let Outcome::Skip(why) = &o {
                *skips.entry(why.clone()).or_default() += 1;
            }
            if o.is_failure() || matches!(o, Outcome::Refused(_)) {
                println!("seed {}: {}: {}", p.seed, o.kind(), o.detail());
            }
            if o.is_failure() {
                failures.push((p, o));
            }
        }
    }
    let total = seeds.len();
    println!(
        "\n{total} programs in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    for (kind, n) in &tally {
        println!("  {kind}: {n}");
    }
    for (why, n) in &skips {
        println!("    ({why}: {n})");
    }
    if options.shrink {
        for (p, o) in &failures {
            let small = shrink_program(&scratch, p.clone(), o);
            let path = scratch.failures.join(format!("{}.rs", p.seed));
            let (text, _) = harness::write_main(&[(format!("p{}", p.seed), small.clone())]);
            let _ = std::fs::write(&path, text);
            let mut user = String::new();
            for h in &small.helpers {
                print::function(h, print::Dialect::of(small.float), small.len, &mut user);
            }
            print::function(
                &small.main,
                print::Dialect::of(small.float),
                small.len,
                &mut user,
            );
            println!(
                "\nseed {} shrunk from size {} to {} ({}):\n{user}",
                p.seed,
                p.size(),
                small.size(),
                o.kind()
            );
        }
    }
    let failed = failures.len();
    println!(
        "{} passed, {failed} failed",
        tally.get("pass").copied().unwrap_or(0)
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

fn shrink_program(scratch: &Scratch, mut p: Program, outcome: &Outcome) -> Program {
    for _round in 0..40 {
        let candidates: Vec<Program> = shrink::candidates(&p).into_iter().take(120).collect();
        if candidates.is_empty() {
            break;
        }
        let outcomes = scratch.run(&candidates);
        let better = candidates
            .into_iter()
            .zip(outcomes)
            .filter(|(q, o)| outcome.same_failure(o) && q.size() < p.size())
            .min_by_key(|(q, _)| q.size());
        match better {
            Some((q, _)) => p = q,
            None => break,
        }
    }
    p
}

/// The crate the programs are compiled in, under the fuzzer's target directory.
struct Scratch {
    /// The crate's (and its binary's) name.
    name: String,
    dir: PathBuf,
    target: PathBuf,
    failures: PathBuf,
}

impl Scratch {
    fn create() -> std::io::Result<Scratch> {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
        let repo = fuzz.parent().unwrap_or(fuzz).canonicalize()?;
        let base = fuzz.join("target");
        // One crate per process, so that runs side by side do not rebuild
        // each other's binary; the target directory (and the macro's build)
        // is shared.
        let name = format!("fuzz-scratch-{}", std::process::id());
        let dir = base.join("scratch").join(&name);
        let failures = base.join("failures");
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::create_dir_all(&failures)?;
        let runtime = repo.join("backprop-runtime");
        let manifest = format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [workspace]\n\n[dependencies]\nbackprop-runtime = {{ path = {:?} }}\n\n\
             [profile.dev]\ndebug = false\nincremental = false\n",
            runtime.display().to_string()
        );
        std::fs::write(dir.join("Cargo.toml"), manifest)?;
        // The workspace's lock file pins the macro's dependencies.
        if !dir.join("Cargo.lock").exists() {
            let _ = std::fs::copy(repo.join("Cargo.lock"), dir.join("Cargo.lock"));
        }
        std::fs::write(dir.join("src/dual.rs"), include_str!("dual.rs"))?;
        Ok(Scratch {
            name,
            dir,
            target: base.join("scratch-target"),
            failures,
        })
    }

    /// Builds and runs `programs`, one outcome each.
    fn run(&self, programs: &[Program]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; programs.len()];
        // Programs that fail to build are classified and left out, and the
        // rest built again, until the batch builds.
        for _attempt in 0..8 {
            let live: Vec<usize> = (0..programs.len())
                .filter(|&k| outcomes[k].is_none())
                .collect();
            if live.is_empty() {
                return outcomes
                    .into_iter()
                    .map(|o| o.unwrap_or(Outcome::Pass))
                    .collect();
            }
            let named: Vec<(String, Program)> = live
                .iter()
                .map(|&k| (format!("p{k}_{}", programs[k].seed), programs[k].clone()))
                .collect();
            let (text, lines) = harness::write_main(&named);
            if let Err(e) = std::fs::write(self.dir.join("src/main.rs"), text) {
                return vec![
                    Outcome::Invalid(format!("cannot write main.rs: {e}"));
                    programs.len()
                ];
            }
            let errors = match self.build() {
                Ok(errors) => errors,
                Err(e) => return vec![Outcome::Invalid(e); programs.len()],
            };
            if errors.is_empty() {
                let results = self.execute(&named);
                for (slot, &k) in live.iter().enumerate() {
                    outcomes[k] = Some(results[slot].clone());
                }
                continue;
            }
            let mut attributed = false;
            for (slot, &k) in live.iter().enumerate() {
                if let Some(o) = classify(&errors, &lines[slot]) {
                    outcomes[k] = Some(o);
                    attributed = true;
                }
            }
            if !attributed {
                let first = errors.first().map(|e| e.1.clone()).unwrap_or_default();
                for &k in &live {
                    outcomes[k] = Some(Outcome::Invalid(format!(
                        "build failed outside any program: {first}"
                    )));
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Invalid("did not build".into())))
            .collect()
    }

    /// `cargo build`; the errors as (line in main.rs, message).
    fn build(&self) -> Result<Vec<(usize, String)>, String> {
        let output = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--message-format=short"])
            .env("CARGO_TARGET_DIR", &self.target)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if output.status.success() {
            return Ok(Vec::new());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mut errors = Vec::new();
        for line in stderr.lines() {
            // src/main.rs:120:5: error[E0308]: mismatched types
            let Some(rest) = line.strip_prefix("src/main.rs:") else {
                continue;
            };
            let mut parts = rest.splitn(3, ':');
            let (Some(l), Some(_col), Some(msg)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let msg = msg.trim();
            if !msg.starts_with("error") {
                continue;
            }
            if let Ok(l) = l.parse() {
                errors.push((l, msg.to_string()));
            }
        }
        if errors.is_empty() {
            let tail: String = stderr
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(format!("build failed without located errors: {tail}"));
        }
        Ok(errors)
    }

    /// Runs the batch; programs the run reported nothing for (the process
    /// aborted: a stack overflow, a hang) are run again one by one, so one
    /// such program does not take the batch's results with it.
    fn execute(&self, named: &[(String, Program)]) -> Vec<Outcome> {
        let mut results = self.run_binary(&[]);
        let missing: Vec<&str> = named
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !results.contains_key(*n))
            .collect();
        if missing.len() < named.len() {
            for name in missing {
                results.extend(self.run_binary(&[name]));
            }
        }
        named
            .iter()
            .map(|(name, _)| {
                results.remove(name).unwrap_or_else(|| {
                    Outcome::RuntimePanic("no result: the process aborted or hung".into())
                })
            })
            .collect()
    }

    /// The scratch binary's results for the programs in `only` (all if empty).
    fn run_binary(&self, only: &[&str]) -> BTreeMap<String, Outcome> {
        let mut results = BTreeMap::new();
        let exe = self.target.join("debug").join(&self.name);
        let Ok(mut child) = Command::new(&exe)
            .args(only)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            return results;
        };
        // Read while it runs, so a full pipe cannot stall it.
        let mut stdout = child.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(out) = stdout.as_mut() {
                use std::io::Read;
                let _ = out.read_to_string(&mut text);
            }
            text
        });
        let start = Instant::now();
        let limit = Duration::from_secs(120);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if start.elapsed() < limit => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
        let stdout = reader.join().unwrap_or_default();
        for line in stdout.lines() {
            let Some(rest) = line.strip_prefix("RESULT ") else {
                continue;
            };
            let mut parts = rest.splitn(3, ' ');
            let (Some(name), Some(status)) = (parts.next(), parts.next()) else {
                continue;
            };
            let detail = parts.next().unwrap_or("").to_string();
            let o = match status {
                "pass" => Outcome::Pass,
                "skip" => Outcome::Skip(detail),
                "wrong" => Outcome::Wrong(detail),
                "panic" => Outcome::RuntimePanic(detail),
                other => Outcome::Invalid(format!("unknown status {other}")),
            };
            results.insert(name.to_string(), o);
        }
        results
    }
}

/// The outcome of a program from the build's errors, if any error is its.
fn classify(errors: &[(usize, String)], lines: &harness::Lines) -> Option<Outcome> {
    let within = |l: usize, (a, b): (usize, usize)| l >= a && l <= b;
    if let Some((l, m)) = errors.iter().find(|(l, _)| within(*l, lines.oracle)) {
        return Some(Outcome::Invalid(format!(
            "the oracle does not compile, line {l}: {m}"
        )));
    }
    let user: Vec<&String> = errors
        .iter()
        .filter(|(l, _)| within(*l, lines.user))
        .map(|(_, m)| m)
        .collect();
    if let Some(m) = user.iter().find(|m| m.contains("panicked")) {
        return Some(Outcome::MacroPanic(m.to_string()));
    }
    // `compile_error!` has no error code; rustc's own errors do.
    if let Some(m) = user.iter().find(|m| m.starts_with("error:")) {
        return Some(Outcome::Refused(
            m.trim_start_matches("error:").trim().to_string(),
        ));
    }
    if let Some(m) = user.first() {
        return Some(Outcome::Miscompile(
            m.trim_start_matches("error").to_string(),
        ));
    }
    let check = errors.iter().find(|(l, _)| within(*l, lines.check));
    check.map(|(l, m)| Outcome::Invalid(format!("line {l}: {m}")))
}
