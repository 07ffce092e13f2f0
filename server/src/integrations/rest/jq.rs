//! Mappings written in jq, compiled once at start with `jaq` (a pure-Rust jq) and run off
//! the async threads on a small pool with a time budget.
//!
//! A filter is configuration, written by the retailer's admin; the limits here guard
//! against mistakes (an endless `recurse`, a runaway recursion), not against an attacker.
//! jaq has no interrupt, but it asks its data for the program table before evaluating each
//! term: our data checks the clock and the stack there and unwinds out of the filter when
//! either runs out ([`std::panic::resume_unwind`], caught by the worker, which lives on).
//! Native generators that never evaluate a term (`[range(1e10)]`) are not caught.

use std::{
    cell::Cell,
    panic::{AssertUnwindSafe, catch_unwind, resume_unwind},
    sync::{Arc, Mutex, OnceLock, mpsc},
    time::{Duration, Instant},
};

use jaq_core::{
    Ctx, Vars,
    data::{DataT, HasLut},
    load::{Arena, File, Loader},
};
use jaq_json::Val;

/// Variables every filter may read; `""` (or `null` for `$order`) where a lookup has none.
pub const VARS: [&str; 6] = [
    "$customer_id",
    "$order_id",
    "$email",
    "$phone",
    "$q",
    "$order",
];

/// Values of [`VARS`] for one run.
#[derive(Debug, Clone, Default)]
pub struct Args {
    pub customer_id: String,
    pub order_id: String,
    pub email: String,
    pub phone: String,
    pub q: String,
    /// The platform's order as it answered `paths.order`, for action bodies.
    pub order: Option<serde_json::Value>,
}

/// Why a filter gave no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapError {
    #[error("{key}: {message}")]
    Failed { key: String, message: String },
    /// The filter raised a string with `error("…")`: the platform's own refusal or error
    /// in-band (an envelope with an error code), passed on as the platform's words.
    #[error("{key}: {message}")]
    Raised { key: String, message: String },
    #[error("{key}: cut off after {ms} ms (the filter's time budget, `filter_timeout_ms`)")]
    CutOff { key: String, ms: u128 },
    #[error("{key}: cut off: recursion too deep")]
    TooDeep { key: String },
}

/// Stack of each filter worker; a run may use all of it but the last [`STACK_MARGIN`].
const STACK: usize = 64 << 20;
const STACK_MARGIN: usize = 4 << 20;
/// Terms evaluated between two looks at the clock.
const TICKS_PER_CLOCK: u32 = 256;
/// Most outputs one run may yield.
const MAX_OUTPUTS: usize = 100_000;

/// One compiled filter.
pub struct Program {
    /// The configuration key, e.g. `map.orders` or `body.create_return`.
    pub key: String,
    filter: jaq_core::Filter<Guarded>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({})", self.key)
    }
}

/// The run-time data kind: jaq's JSON values, with the budget beside the program table.
struct Guarded;

impl DataT for Guarded {
    type V<'a> = Val;
    type Data<'a> = Guard<'a>;
}

#[derive(Clone)]
struct Guard<'a> {
    lut: &'a jaq_core::Lut<Guarded>,
    budget: &'a Budget,
}

impl<'a> HasLut<'a, Guarded> for Guard<'a> {
    fn lut(&self) -> &'a jaq_core::Lut<Guarded> {
        self.budget.check();
        self.lut
    }
}

/// Why a run was unwound.
enum Cut {
    Time,
    Depth,
}

struct Budget {
    deadline: Instant,
    stack_base: usize,
    ticks: Cell<u32>,
}

impl Budget {
    fn check(&self) {
        if self.stack_base.saturating_sub(stack_address()) > STACK - STACK_MARGIN {
            resume_unwind(Box::new(Cut::Depth));
        }
        let t = self.ticks.get().wrapping_add(1);
        self.ticks.set(t);
        if t.is_multiple_of(TICKS_PER_CLOCK) && Instant::now() >= self.deadline {
            resume_unwind(Box::new(Cut::Time));
        }
    }
}

/// Roughly where this thread's stack is now (it grows down).
#[inline(never)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

impl Program {
    /// Compiles `code`; the error says where in the filter it went wrong
    /// (`line 2, column 7: expected term`).
    pub fn compile(key: &str, code: &str) -> Result<Self, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        // `env` would hand the process environment (kefu's own secrets) to a filter.
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .filter(|(name, ..)| *name != "env");
        let arena = Arena::default();
        let modules = Loader::new(defs)
            .load(&arena, File { code, path: () })
            .map_err(|errs| {
                let (pos, what) = errs
                    .into_iter()
                    .flat_map(|(_, e)| load_errors(e))
                    .next()
                    .unwrap_or((code, "cannot be read".into()));
                at(code, pos, &what)
            })?;
        let filter = jaq_core::Compiler::default()
            .with_funs(funs)
            .with_global_vars(VARS)
            .compile(modules)
            .map_err(|errs| {
                let (pos, undefined) = errs
                    .into_iter()
                    .flat_map(|(_, e)| e)
                    .next()
                    .map(|(s, u)| (s, format!("undefined {} `{s}`", u.as_str())))
                    .unwrap_or((code, "does not compile".into()));
                at(code, pos, &undefined)
            })?;
        Ok(Self {
            key: key.into(),
            filter,
        })
    }

    /// Runs the filter on `input` on this thread, within `budget`: every output, in order.
    pub fn run_here(
        &self,
        input: serde_json::Value,
        args: &Args,
        budget: Duration,
    ) -> Result<Vec<serde_json::Value>, MapError> {
        let guard = Budget {
            deadline: Instant::now() + budget,
            stack_base: stack_address(),
            ticks: Cell::new(0),
        };
        let failed = |message: String| MapError::Failed {
            key: self.key.clone(),
            message,
        };
        let run = || -> Result<Vec<serde_json::Value>, MapError> {
            let data = Guard {
                lut: &self.filter.lut,
                budget: &guard,
            };
            let s = |x: &str| Val::from(x.to_string());
            let vars = Vars::new([
                s(&args.customer_id),
                s(&args.order_id),
                s(&args.email),
                s(&args.phone),
                s(&args.q),
                args.order.as_ref().map_or(Val::Null, to_val),
            ]);
            let ctx = Ctx::<Guarded>::new(data, vars);
            let mut out = Vec::new();
            for y in self.filter.id.run((ctx, to_val(&input))) {
                let y = y.map_err(|e| match e.get_err() {
                    // jaq shows a raised value as JSON; jaq's own errors are prose.
                    Ok(e) => match serde_json::from_str::<String>(&e.to_string()) {
                        Ok(message) => MapError::Raised {
                            key: self.key.clone(),
                            message,
                        },
                        Err(_) => failed(e.to_string()),
                    },
                    Err(_) => failed("`halt` is not available in a mapping".into()),
                })?;
                out.push(from_val(&y).map_err(failed)?);
                if out.len() > MAX_OUTPUTS {
                    return Err(failed(format!("more than {MAX_OUTPUTS} outputs")));
                }
            }
            Ok(out)
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(result) => result,
            Err(cut) => match cut.downcast::<Cut>() {
                Ok(c) if matches!(*c, Cut::Time) => Err(MapError::CutOff {
                    key: self.key.clone(),
                    ms: budget.as_millis(),
                }),
                Ok(_) => Err(MapError::TooDeep {
                    key: self.key.clone(),
                }),
                Err(other) => resume_unwind(other),
            },
        }
    }

    /// [`Self::run_here`] on the filter pool, so a slow filter never holds an async thread.
    pub async fn run(
        self: &Arc<Self>,
        input: serde_json::Value,
        args: Args,
        budget: Duration,
    ) -> Result<Vec<serde_json::Value>, MapError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let me = self.clone();
        pool().submit(Box::new(move || {
            let _ = tx.send(me.run_here(input, &args, budget));
        }));
        rx.await.unwrap_or_else(|_| {
            Err(MapError::Failed {
                key: self.key.clone(),
                message: "the filter worker stopped".into(),
            })
        })
    }
}

/// `S` positions (slices of `code`) and messages of a load error.
fn load_errors(e: jaq_core::load::Error<&str>) -> Vec<(&str, String)> {
    use jaq_core::load::Error;
    match e {
        Error::Io(v) => v,
        Error::Lex(v) => v
            .into_iter()
            .map(|(exp, s)| (s, format!("expected {}", exp.as_str())))
            .collect(),
        Error::Parse(v) => v
            .into_iter()
            .map(|(exp, s)| (s, format!("expected {}", exp.as_str())))
            .collect(),
    }
}

/// `line L, column C: WHAT`, from a slice of `code` jaq pointed at.
fn at(code: &str, pos: &str, what: &str) -> String {
    let offset = (pos.as_ptr() as usize)
        .checked_sub(code.as_ptr() as usize)
        .filter(|o| *o <= code.len())
        .unwrap_or(0);
    let before = &code[..code.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("line {line}, column {column}: {what}")
}

fn to_val(v: &serde_json::Value) -> Val {
    // jaq reads JSON text; serde_json's writer always produces valid JSON.
    jaq_json::read::parse_single(v.to_string().as_bytes()).unwrap_or(Val::Null)
}

fn from_val(v: &Val) -> Result<serde_json::Value, String> {
    serde_json::from_str(&v.to_string())
        .map_err(|e| format!("the filter produced a value that is not JSON ({e}): {v}"))
}

type Job = Box<dyn FnOnce() + Send>;

/// Two worker threads (one per core of the smallest supported machine) with a deep stack.
struct Pool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Pool {
    fn submit(&self, job: Job) {
        // The workers never exit while the sender lives (it is static).
        let _ = self.jobs.lock().unwrap().send(job);
    }
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..2 {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("kefu-jq-{i}"))
                .stack_size(STACK)
                .spawn(move || {
                    loop {
                        let job = rx.lock().unwrap().recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                })
                .expect("a filter worker thread starts");
        }
        Pool {
            jobs: Mutex::new(tx),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(code: &str, input: serde_json::Value) -> Result<Vec<serde_json::Value>, MapError> {
        Program::compile("t", code).unwrap().run_here(
            input,
            &Args::default(),
            Duration::from_millis(300),
        )
    }

    #[test]
    fn maps_with_the_standard_library_and_variables() {
        let p = Program::compile(
            "map.orders",
            r#".data[] | {id: .no, total: (.amt | tonumber), who: $customer_id}"#,
        )
        .unwrap();
        let args = Args {
            customer_id: "C1".into(),
            ..Args::default()
        };
        let out = p
            .run_here(
                json!({"data": [{"no": "A", "amt": "1.5"}, {"no": "B", "amt": "2"}]}),
                &args,
                Duration::from_secs(1),
            )
            .unwrap();
        assert_eq!(
            out,
            vec![
                json!({"id": "A", "total": 1.5, "who": "C1"}),
                json!({"id": "B", "total": 2, "who": "C1"})
            ]
        );
    }

    #[test]
    fn a_compile_error_says_where() {
        let e = Program::compile("map.orders", ".data[] |\n  {id: .no,, }").unwrap_err();
        assert!(e.starts_with("line 2, column "), "{e}");
        let e = Program::compile("map.customer", ".x | nosuchfilter(1)").unwrap_err();
        assert!(e.starts_with("line 1, column 6: undefined filter"), "{e}");
        let e = Program::compile("map.customer", "$nosuchvar").unwrap_err();
        assert!(e.contains("undefined variable"), "{e}");
    }

    #[test]
    fn runtime_errors_are_reported_not_panics() {
        let e = run(r#".a + 1"#, json!({"a": "x"})).unwrap_err();
        assert!(matches!(e, MapError::Failed { .. }), "{e}");
        let e = run(r#"error("订单不存在")"#, json!(null)).unwrap_err();
        assert_eq!(
            e,
            MapError::Raised {
                key: "t".into(),
                message: "订单不存在".into()
            }
        );
        let e = run("halt", json!(null)).unwrap_err();
        assert!(e.to_string().contains("halt"), "{e}");
        assert!(Program::compile("t", "env").is_err(), "env is withheld");
    }

    #[test]
    fn runaway_filters_are_cut_off() {
        let e = run("last(repeat(1))", json!(null)).unwrap_err();
        assert_eq!(
            e,
            MapError::CutOff {
                key: "t".into(),
                ms: 300
            }
        );
        let e = run("[recurse(. + 1)] | length", json!(0)).unwrap_err();
        assert_eq!(
            e,
            MapError::CutOff {
                key: "t".into(),
                ms: 300
            }
        );
    }

    #[test]
    fn deep_recursion_is_cut_off_before_the_stack_ends() {
        // Needs the worker's deep stack: run where the pool runs filters.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let p = Arc::new(Program::compile("t", "def f: 1 + f; f").unwrap());
        let e = rt
            .block_on(p.run(json!(null), Args::default(), Duration::from_secs(30)))
            .unwrap_err();
        assert!(
            matches!(e, MapError::TooDeep { .. } | MapError::CutOff { .. }),
            "{e}"
        );
        // The worker survived and runs the next filter.
        let ok = Arc::new(Program::compile("t", ".a").unwrap());
        let out = rt
            .block_on(ok.run(json!({"a": 1}), Args::default(), Duration::from_secs(1)))
            .unwrap();
        assert_eq!(out, vec![json!(1)]);
    }
}
