//! Writes one batch of programs into the scratch crate's `main.rs`: each
//! program as user code under `#[differentiate]`, again over dual numbers (the
//! oracle), and a check that compares every generated entry point with the
//! oracle.

use crate::ast::*;
use crate::print::{self, float_digits, Dialect};
use std::fmt::Write;

/// Where a program's pieces landed in `main.rs`, to attribute diagnostics.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    /// The user code: the module, less its oracle.
    pub user: (usize, usize),
    /// The oracle: the same program over dual numbers. An error here means the
    /// program is not valid Rust, whatever the macro did.
    pub oracle: (usize, usize),
    /// The check function: errors here with none in the user code are the fuzzer's.
    pub check: (usize, usize),
}

/// Seeds for the outputs: fixed values other than one, so that a seed that is
/// dropped or applied twice shows.
const SEEDS: [f64; 8] = [0.7, -1.3, 0.4, 1.1, -0.6, 0.9, -0.2, 1.7];

/// A custom derivative rule, as the README describes them: a plain function
/// and a module of the shape `#[differentiate]` generates, written by hand.
const CUSTOM_RULE: &str = r#"
pub fn crule(a: f64) -> f64 { a.sin() * 2.0 + a }
pub mod crule {
    #[derive(Clone, Debug, Default)]
    pub struct Tape { a: f64 }
    pub fn forward_into(tape: &mut Tape, a: f64) -> f64 { tape.a = a; super::crule(a) }
    pub type Scratch = ();
    pub fn pullback_into(tape: &Tape, seed: f64, _scratch: &mut Scratch) -> (f64,) { (seed * (2.0 * tape.a.cos() + 1.0),) }
}
"#;

/// The struct a `Step` helper takes and returns, over the program's float
/// or the oracle's.
const STRUCT: &str =
    "#[derive(Clone, Copy, Debug)]\npub struct St<T> {\n    pub a: T,\n    pub b: T,\n}\n";

pub const PRELUDE: &str = r#"#![allow(warnings, clippy::all)]
mod dual;
use dual::D;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

/// Compares `got` with `want` element by element, naming the first mismatch.
fn compare(what: &str, got: &[f64], want: &[f64], tol: f64) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{what}: {} values, expected {}", got.len(), want.len()));
    }
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        if !close(*g, *w, tol) {
            return Err(format!("{what}[{k}]: generated {g:e}, oracle {w:e}"));
        }
    }
    Ok(())
}

/// The picture's own sums: each drawn value's adjoint is the sum of the
/// terms on the wires leaving it (every iteration drawn), as the blog's
/// `dx = dx1 + dx2 + dx3`; a wire past a loop that ran no iteration carries
/// the adjoint of the value after it whole. A value whose adjoint also flows
/// along a loop's other wires, or that feeds an array, is left out.
fn check_graph(g: &backprop_runtime::graph::Graph, tol: f64) -> Result<(), String> {
    use backprop_runtime::graph::EdgeKind;
    let carried = |e: &backprop_runtime::graph::Edge| match e.kind {
        EdgeKind::Operand => e.term_value,
        EdgeKind::LoopBypass => Some(g.nodes[e.to].adjoint.unwrap_or(0.0)),
        _ => None,
    };
    for (k, node) in g.nodes.iter().enumerate() {
        let Some(adjoint) = node.adjoint else { continue };
        let out: Vec<_> = g.edges.iter().filter(|e| e.from == k).collect();
        if out.is_empty() || node.output || out.iter().any(|e| carried(e).is_none()) {
            continue;
        }
        let sum: f64 = out.iter().filter_map(|e| carried(e)).sum();
        if !close(sum, adjoint, tol) {
            return Err(format!("graph: d{}{:?} = {adjoint:e} but its wires carry {sum:e}", node.name, node.iteration));
        }
    }
    Ok(())
}

/// `seeds · J` for each input direction: `tangents[j][o]` is d output o / d input j.
fn vjp(tangents: &[Vec<f64>], seeds: &[f64], times: f64) -> Vec<f64> {
    tangents.iter().map(|t| times * t.iter().zip(seeds).map(|(a, b)| a * b).sum::<f64>()).collect()
}
"#;

pub fn write_main(programs: &[(String, Program)]) -> (String, Vec<Lines>) {
    let mut out = String::from(PRELUDE);
    let mut lines = Vec::new();
    for (name, p) in programs {
        lines.push(write_program(name, p, &mut out));
    }
    out.push_str("\nfn main() {\n    std::panic::set_hook(Box::new(|_| {}));\n    let only: Vec<String> = std::env::args().skip(1).collect();\n");
    out.push_str("    let checks: Vec<(&str, fn() -> Result<String, String>)> = vec![\n");
    for (name, _) in programs {
        let _ = writeln!(out, "        (\"{name}\", check_{name}),");
    }
    out.push_str("    ];\n");
    out.push_str(
        r#"    for (name, check) in checks {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        match std::panic::catch_unwind(check) {
            Ok(Ok(status)) => println!("RESULT {name} {status}"),
            Ok(Err(why)) => println!("RESULT {name} wrong {}", why.replace('\n', " ")),
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                println!("RESULT {name} panic {}", msg.replace('\n', " "));
            }
        }
    }
}
"#,
    );
    (out, lines)
}

fn line_count(s: &str) -> usize {
    s.matches('\n').count()
}

fn main_function(p: &Program, d: Dialect, out: &mut String) {
    if p.model.is_some() && p.free_model && d != Dialect::Dual {
        print::model_function(
            &p.main,
            d,
            p.len,
            (p.whole_model, p.sliced_model, p.held_model),
            out,
        );
    } else if p.model.is_some() {
        print::method(&p.main, d, p.len, out);
    } else {
        print::function(&p.main, d, p.len, out);
    }
}

fn write_program(name: &str, p: &Program, out: &mut String) -> Lines {
    let d = Dialect::of(p.float);
    let start = line_count(out) + 1;
    let _ = writeln!(out, "\nmod {name} {{");
    out.push_str("    use backprop_runtime::{differentiate, relu, sigmoid, softplus, Float};\n");
    if p.float == Float::F64 {
        out.push_str(CUSTOM_RULE);
    }
    let structs = p
        .helpers
        .iter()
        .any(|h| h.params.iter().any(|q| q.ty == PTy::Struct));
    if structs {
        out.push_str(STRUCT);
    }
    for h in &p.helpers {
        print::function(h, d, p.len, out);
    }
    main_function(p, d, out);
    let user_end = line_count(out);
    out.push_str("    pub mod oracle {\n        use crate::dual::*;\n");
    out.push_str("pub fn crule(a: D) -> D { a.sin() * D::c(2.0) + a }\n");
    if structs {
        out.push_str(STRUCT);
    }
    for h in &p.helpers {
        print::function(h, Dialect::Dual, p.len, out);
    }
    main_function(p, Dialect::Dual, out);
    out.push_str("    }\n}\n");
    let oracle_end = line_count(out);
    write_check(name, p, out);
    let check_end = line_count(out);
    Lines {
        user: (start, user_end),
        oracle: (user_end + 1, oracle_end),
        check: (oracle_end + 1, check_end),
    }
}

/// The check of one program. Inputs are `f64`; an `f32` program gets them
/// converted, and its results are compared at `f32`'s precision.
fn write_check(name: &str, p: &Program, out: &mut String) {
    let f = &p.main;
    let ty = match p.float {
        Float::F32 => "f32",
        _ => "f64",
    };
    // A round trip through `f32` rounds adjoints to `f32` too (the adjoint of
    // an `f32` value is an `f32`): such programs are checked at its precision.
    let through_f32 = format!("{:?}{:?}", p.main, p.helpers).contains("Cast(");
    let tol = if p.float == Float::F32 || through_f32 {
        "2e-3"
    } else {
        "1e-7"
    };
    let min_margin = if p.float == Float::F32 {
        "1e-3"
    } else {
        "1e-9"
    };
    let _ = writeln!(out, "\nfn check_{name}() -> Result<String, String> {{");
    let _ = writeln!(out, "    let z_tol = {tol};");
    // Inputs.
    for (param, values) in f.params.iter().zip(&p.inputs) {
        let v = &param.name;
        match param.ty {
            PTy::Scalar | PTy::MutScalar | PTy::RefScalar => {
                let _ = writeln!(out, "    let z_in_{v}: f64 = {};", float_digits(values[0]));
            }
            PTy::Int => {
                let _ = writeln!(out, "    let z_in_{v}: usize = {};", values[0] as usize);
            }
            PTy::IntList => {
                let items: Vec<String> = values.iter().map(|x| (*x as usize).to_string()).collect();
                let _ = writeln!(
                    out,
                    "    let z_in_{v}: Vec<usize> = vec![{}];",
                    items.join(", ")
                );
            }
            _ => {
                let items: Vec<String> = values.iter().map(|x| float_digits(*x)).collect();
                let _ = writeln!(
                    out,
                    "    let z_in_{v}: Vec<f64> = vec![{}];",
                    items.join(", ")
                );
            }
        }
    }
    // The differentiable coordinates, in order: a model's fields first.
    if let Some((w, b)) = &p.model {
        let items: Vec<String> = w.iter().map(|x| float_digits(*x)).collect();
        let _ = writeln!(
            out,
            "    let z_in_mw: Vec<f64> = vec![{}];",
            items.join(", ")
        );
        let _ = writeln!(out, "    let z_in_mb: f64 = {};", float_digits(*b));
        let _ = writeln!(
            out,
            "    let z_umodel = {name}::Model {{ w: z_in_mw.clone(), b: z_in_mb }};"
        );
        if p.sliced_model {
            // A decoy first: the function reads the second model.
            let _ = writeln!(
                out,
                "    let z_umodels = [{name}::Model {{ w: z_in_mw.iter().map(|v| 0.5 * v + 0.25).collect(), b: z_in_mb - 1.0 }}, {name}::Model {{ w: z_in_mw.clone(), b: z_in_mb }}];"
            );
            if p.held_model {
                let _ = writeln!(
                    out,
                    "    let z_uholder = {name}::Holder {{ models: vec![{name}::Model {{ w: z_in_mw.iter().map(|v| 0.5 * v + 0.25).collect(), b: z_in_mb - 1.0 }}, {name}::Model {{ w: z_in_mw.clone(), b: z_in_mb }}] }};"
                );
            }
        }
    }
    let mut coords = if p.model.is_some() { p.len + 1 } else { 0 };
    let mut offsets = Vec::new();
    for param in &f.params {
        offsets.push(coords);
        coords += match param.ty {
            PTy::Scalar | PTy::MutScalar | PTy::RefScalar => 1,
            PTy::Slice | PTy::MutSlice | PTy::Array | PTy::ArrayRef | PTy::VecRef => p.len,
            PTy::Data | PTy::Int | PTy::IntList => 0,
            PTy::Struct => unreachable!("main takes no struct"),
        };
    }
    // The oracle: one run per direction, and the value.
    out.push_str("    let z_run = |z_dir: usize| -> Vec<D> {\n");
    let mut call_args = Vec::new();
    for (param, off) in f.params.iter().zip(&offsets) {
        let v = &param.name;
        match param.ty {
            PTy::Scalar | PTy::MutScalar | PTy::RefScalar => {
                let m = if param.ty == PTy::MutScalar {
                    "mut "
                } else {
                    ""
                };
                let _ = writeln!(out, "        let {m}z_{v} = D::var(z_in_{v}, if z_dir == {off} {{ 1.0 }} else {{ 0.0 }});");
                call_args.push(match param.ty {
                    PTy::MutScalar => format!("&mut z_{v}"),
                    PTy::RefScalar => format!("&z_{v}"),
                    _ => format!("z_{v}"),
                });
            }
            PTy::Array | PTy::ArrayRef => {
                let _ = writeln!(out, "        let z_{v}: [D; {}] = std::array::from_fn(|i| D::var(z_in_{v}[i], if z_dir == {off} + i {{ 1.0 }} else {{ 0.0 }}));", p.len);
                let amp = if param.ty == PTy::ArrayRef { "&" } else { "" };
                call_args.push(format!("{amp}z_{v}"));
            }
            PTy::Slice | PTy::MutSlice | PTy::VecRef => {
                let _ = writeln!(out, "        let mut z_{v}: Vec<D> = z_in_{v}.iter().enumerate().map(|(i, &x)| D::var(x, if z_dir == {off} + i {{ 1.0 }} else {{ 0.0 }})).collect();");
                call_args.push(if param.ty == PTy::MutSlice {
                    format!("&mut z_{v}")
                } else {
                    format!("&z_{v}")
                });
            }
            PTy::Data => {
                let _ = writeln!(
                    out,
                    "        let z_{v}: Vec<D> = z_in_{v}.iter().map(|&x| D::c(x)).collect();"
                );
                call_args.push(format!("&z_{v}"));
            }
            PTy::Int => call_args.push(format!("z_in_{v}")),
            PTy::IntList => {
                let _ = writeln!(out, "        let mut z_{v} = z_in_{v}.clone();");
                call_args.push(format!("&mut z_{v}"));
            }
            PTy::Struct => unreachable!("main takes no struct"),
        }
    }
    if p.model.is_some() {
        let _ = writeln!(out, "        let z_m = {name}::oracle::Model {{ w: z_in_mw.iter().enumerate().map(|(i, &x)| D::var(x, if z_dir == i {{ 1.0 }} else {{ 0.0 }})).collect(), b: D::var(z_in_mb, if z_dir == {} {{ 1.0 }} else {{ 0.0 }}) }};", p.len);
        let _ = writeln!(out, "        let z_r = z_m.f({});", call_args.join(", "));
    } else {
        let _ = writeln!(
            out,
            "        let z_r = {name}::oracle::f({});",
            call_args.join(", ")
        );
    }
    out.push_str("        let mut z_out: Vec<D> = Vec::new();\n");
    match &f.ret {
        Ret::Scalar(_) => out.push_str("        z_out.push(z_r);\n"),
        Ret::Pair(..) => out.push_str("        z_out.push(z_r.0);\n        z_out.push(z_r.1);\n"),
        Ret::Array(..) => {
            out.push_str("        z_out.push(z_r[0]);\n        z_out.push(z_r[1]);\n")
        }
        Ret::Unit => out.push_str("        let () = z_r;\n"),
        Ret::Struct(..) => unreachable!("main returns no struct"),
    }
    for param in &f.params {
        let v = &param.name;
        match param.ty {
            PTy::MutScalar => {
                let _ = writeln!(out, "        z_out.push(z_{v});");
            }
            PTy::MutSlice => {
                let _ = writeln!(out, "        z_out.extend(z_{v}.iter().copied());");
            }
            _ => {}
        }
    }
    out.push_str("        z_out\n    };\n");
    let _ = writeln!(out, "    dual::reset_margin();");
    let _ = writeln!(
        out,
        "    let z_value: Vec<f64> = z_run(usize::MAX).iter().map(|d| d.v).collect();"
    );
    let _ = writeln!(out, "    let z_tangents: Vec<Vec<f64>> = (0..{coords}).map(|j| z_run(j).iter().map(|d| d.d).collect()).collect();");
    let _ = writeln!(
        out,
        "    if dual::margin() < {min_margin} {{ return Ok(\"skip near-switch\".into()); }}"
    );
    out.push_str("    if dual::overflowed() || z_value.iter().chain(z_tangents.iter().flatten()).any(|v| !v.is_finite() || v.abs() > 1e8) { return Ok(\"skip ill-conditioned\".into()); }\n");

    // The user's arguments, fresh for each call (the `&mut` ones change).
    let outputs = match &f.ret {
        Ret::Scalar(_) => 1,
        Ret::Pair(..) | Ret::Array(..) => 2,
        Ret::Unit => 0,
        Ret::Struct(..) => unreachable!("main returns no struct"),
    } + f
        .params
        .iter()
        .map(|q| match q.ty {
            PTy::MutScalar => 1,
            PTy::MutSlice => p.len,
            _ => 0,
        })
        .sum::<usize>();
    let seeds: Vec<f64> = (0..outputs).map(|k| SEEDS[k % SEEDS.len()]).collect();
    let seed_list: Vec<String> = seeds.iter().map(|s| float_digits(*s)).collect();
    let _ = writeln!(
        out,
        "    let z_seeds: Vec<f64> = vec![{}];",
        seed_list.join(", ")
    );
    for param in &f.params {
        let v = &param.name;
        match param.ty {
            PTy::Scalar | PTy::MutScalar | PTy::RefScalar => {
                let _ = writeln!(out, "    let z_u_{v} = z_in_{v} as {ty};");
            }
            PTy::Array | PTy::ArrayRef => {
                let _ = writeln!(
                    out,
                    "    let z_u_{v}: [{ty}; {}] = std::array::from_fn(|i| z_in_{v}[i] as {ty});",
                    p.len
                );
            }
            PTy::Slice | PTy::Data | PTy::MutSlice | PTy::VecRef => {
                let _ = writeln!(
                    out,
                    "    let z_u_{v}: Vec<{ty}> = z_in_{v}.iter().map(|&x| x as {ty}).collect();"
                );
            }
            PTy::Int => {
                let _ = writeln!(out, "    let z_u_{v} = z_in_{v};");
            }
            PTy::IntList => {}
            PTy::Struct => unreachable!("main takes no struct"),
        }
    }
    // `call(tag)` declares fresh `&mut` copies named after `tag` and returns the
    // argument list.
    let call = |tag: &str, out: &mut String| -> String {
        let mut args = Vec::new();
        for param in &f.params {
            let v = &param.name;
            match param.ty {
                PTy::MutScalar => {
                    let _ = writeln!(out, "    let mut z_{tag}_{v} = z_u_{v};");
                    args.push(format!("&mut z_{tag}_{v}"));
                }
                PTy::MutSlice => {
                    let _ = writeln!(out, "    let mut z_{tag}_{v} = z_u_{v}.clone();");
                    args.push(format!("&mut z_{tag}_{v}"));
                }
                PTy::RefScalar => args.push(format!("&z_u_{v}")),
                PTy::Slice | PTy::Data | PTy::ArrayRef | PTy::VecRef => {
                    args.push(format!("&z_u_{v}"))
                }
                PTy::Scalar | PTy::Int | PTy::Array => args.push(format!("z_u_{v}")),
                PTy::IntList => {
                    let _ = writeln!(out, "    let mut z_{tag}_{v} = z_in_{v}.clone();");
                    args.push(format!("&mut z_{tag}_{v}"));
                }
                PTy::Struct => unreachable!("main takes no struct"),
            }
        }
        if p.held_model {
            args.insert(0, "&z_uholder".to_string());
        } else if p.sliced_model {
            args.insert(0, "&z_umodels".to_string());
        } else if p.free_model {
            args.insert(0, "&z_umodel".to_string());
        }
        args.join(", ")
    };
    // The outputs of a call as `Vec<f64>`, from its result `r` and the copies of `tag`.
    let collect = |tag: &str, r: &str, out: &mut String| {
        let _ = writeln!(out, "    let mut z_{tag}_out: Vec<f64> = Vec::new();");
        match &f.ret {
            Ret::Scalar(_) => {
                let _ = writeln!(out, "    z_{tag}_out.push({r} as f64);");
            }
            Ret::Pair(..) => {
                let _ = writeln!(
                    out,
                    "    z_{tag}_out.push({r}.0 as f64);\n    z_{tag}_out.push({r}.1 as f64);"
                );
            }
            Ret::Array(..) => {
                let _ = writeln!(
                    out,
                    "    z_{tag}_out.push({r}[0] as f64);\n    z_{tag}_out.push({r}[1] as f64);"
                );
            }
            Ret::Unit => {
                let _ = writeln!(out, "    let () = {r};");
            }
            Ret::Struct(..) => unreachable!("main returns no struct"),
        }
        for param in &f.params {
            let v = &param.name;
            match param.ty {
                PTy::MutScalar => {
                    let _ = writeln!(out, "    z_{tag}_out.push(z_{tag}_{v} as f64);");
                }
                PTy::MutSlice => {
                    let _ = writeln!(
                        out,
                        "    z_{tag}_out.extend(z_{tag}_{v}.iter().map(|&x| x as f64));"
                    );
                }
                _ => {}
            }
        }
    };
    // The gradient struct `g` flattened into the coordinates' order.
    let flatten = |g: &str, out: &mut String| -> String {
        let var = format!("z_flat_{}", g.replace(['.', '[', ']'], "_"));
        let _ = writeln!(out, "    let mut {var}: Vec<f64> = Vec::new();");
        if p.sliced_model {
            // The decoy's gradient is zero; the second model's is the
            // model's.
            let models = match p.held_model {
                true => format!("{g}.holder.models"),
                false => format!("{g}.models"),
            };
            let _ = writeln!(
                out,
                "    assert!({models}.len() == 2 && {models}[0].w.iter().all(|v| *v == 0.0) && {models}[0].b == 0.0, \"the decoy model's gradient is not zero: {{:?}}\", {models}[0]);\n    if {models}[1].w.is_empty() {{ {var}.extend(std::iter::repeat(0.0).take({})); }} else {{ {var}.extend({models}[1].w.iter().copied()); }}\n    {var}.push({models}[1].b);",
                p.len
            );
        } else if p.free_model {
            // A field the function does not read keeps an empty vector: zeros.
            let _ = writeln!(
                out,
                "    if {g}.model.w.is_empty() {{ {var}.extend(std::iter::repeat(0.0).take({})); }} else {{ {var}.extend({g}.model.w.iter().copied()); }}\n    {var}.push({g}.model.b);",
                p.len
            );
        } else if p.model.is_some() {
            let _ = writeln!(
                out,
                "    {var}.extend({g}.w.iter().copied());\n    {var}.push({g}.b);"
            );
        }
        for param in &f.params {
            let v = &param.name;
            match param.ty {
                PTy::Scalar | PTy::MutScalar | PTy::RefScalar => {
                    let _ = writeln!(out, "    {var}.push({g}.{v} as f64);");
                }
                PTy::Slice | PTy::MutSlice | PTy::Array | PTy::ArrayRef | PTy::VecRef => {
                    let _ = writeln!(out, "    {var}.extend({g}.{v}.iter().map(|&x| x as f64));");
                }
                _ => {}
            }
        }
        var
    };
    let method = p.model.is_some() && !p.free_model;
    let module = if method {
        format!("{name}::model_f")
    } else {
        format!("{name}::f")
    };
    // How the function itself, `forward` and `grad` are called.
    let (plain_fn, forward_fn, grad_fn) = if method {
        (
            "z_umodel.f".to_string(),
            "z_umodel.f_forward".to_string(),
            "z_umodel.f_grad".to_string(),
        )
    } else {
        (
            format!("{name}::f"),
            format!("{module}::forward"),
            format!("{module}::grad"),
        )
    };
    // The seed argument of `backward`: value seed(s) first, then one per
    // `&mut` parameter (a slice for a slice).
    let seed_arg = {
        let mut parts = Vec::new();
        let mut k = 0;
        match &f.ret {
            Ret::Scalar(_) => {
                parts.push(format!("z_seeds[0] as {ty}"));
                k = 1;
            }
            Ret::Pair(..) => {
                parts.push(format!("z_seeds[0] as {ty}"));
                parts.push(format!("z_seeds[1] as {ty}"));
                k = 2;
            }
            Ret::Array(..) => {
                parts.push(format!("[z_seeds[0] as {ty}, z_seeds[1] as {ty}]"));
                k = 2;
            }
            Ret::Unit => {}
            Ret::Struct(..) => unreachable!("main returns no struct"),
        }
        for param in &f.params {
            match param.ty {
                PTy::MutScalar => {
                    parts.push(format!("z_seeds[{k}] as {ty}"));
                    k += 1;
                }
                PTy::MutSlice => {
                    parts.push(format!(
                        "&z_seeds[{k}..{}].iter().map(|&x| x as {ty}).collect::<Vec<{ty}>>()",
                        k + p.len
                    ));
                    k += p.len;
                }
                _ => {}
            }
        }
        if parts.len() == 1 {
            parts.remove(0)
        } else {
            format!("({})", parts.join(", "))
        }
    };

    // 1. The function itself, and the forward pass: same outputs.
    let args = call("plain", out);
    let _ = writeln!(out, "    let z_plain_r = {plain_fn}({args});");
    collect("plain", "z_plain_r", out);
    let args = call("fwd", out);
    let _ = writeln!(out, "    let (z_fwd_r, z_tape) = {forward_fn}({args});");
    collect("fwd", "z_fwd_r", out);
    out.push_str(
        "    compare(\"forward value vs the function\", &z_fwd_out, &z_plain_out, 1e-12)?;\n",
    );
    out.push_str("    compare(\"value vs oracle\", &z_fwd_out, &z_value, z_tol)?;\n");
    // 2. backward with seeds other than one.
    let _ = writeln!(
        out,
        "    let z_g = {module}::backward(&z_tape, {seed_arg});"
    );
    let flat = flatten("z_g", out);
    let _ = writeln!(
        out,
        "    compare(\"backward\", &{flat}, &vjp(&z_tangents, &z_seeds, 1.0), z_tol)?;"
    );
    // 3. pullback: the same gradient by position (a method's module orders
    // its fields as it finds them; `backward` is checked).
    if !method && !p.free_model {
        let _ = writeln!(
            out,
            "    let z_pb = {module}::pullback(&z_tape, {seed_arg});"
        );
        out.push_str("    let mut z_pb_flat: Vec<f64> = Vec::new();\n");
        for (k, param) in f.params.iter().enumerate() {
            match param.ty {
                PTy::Scalar | PTy::MutScalar | PTy::RefScalar => {
                    let _ = writeln!(out, "    z_pb_flat.push(z_pb.{k} as f64);");
                }
                PTy::Slice | PTy::MutSlice | PTy::Array | PTy::ArrayRef | PTy::VecRef => {
                    let _ = writeln!(
                        out,
                        "    z_pb_flat.extend(z_pb.{k}.iter().map(|&x| x as f64));"
                    );
                }
                _ => {}
            }
        }
        let _ = writeln!(out, "    compare(\"pullback\", &z_pb_flat, &{flat}, 0.0)?;");
    }
    // 4. forward_into / backward_into, accumulating twice into one Grad (a
    // method's forward is `f_forward`; its tape serves).
    let generic = if p.float == Float::Generic {
        "::<f64>"
    } else {
        ""
    };
    let tape2 = if method {
        "z_tape".to_string()
    } else {
        let _ = writeln!(
            out,
            "    let mut z_tape2 = {module}::Tape{generic}::default();"
        );
        let args = call("into", out);
        let _ = writeln!(
            out,
            "    let z_into_r = {module}::forward_into(&mut z_tape2, {args});"
        );
        collect("into", "z_into_r", out);
        out.push_str("    compare(\"forward_into value\", &z_into_out, &z_plain_out, 1e-12)?;\n");
        "z_tape2".to_string()
    };
    let _ = writeln!(
        out,
        "    let mut z_g2 = {module}::Grad{generic}::default();"
    );
    let _ = writeln!(
        out,
        "    {module}::backward_into(&{tape2}, {seed_arg}, &mut z_g2);"
    );
    let _ = writeln!(
        out,
        "    {module}::backward_into(&{tape2}, {seed_arg}, &mut z_g2);"
    );
    let flat2 = flatten("z_g2", out);
    let _ = writeln!(
        out,
        "    compare(\"backward_into twice\", &{flat2}, &vjp(&z_tangents, &z_seeds, 2.0), z_tol)?;"
    );
    // The picture at the same arguments: each parameter's adjoint is
    // `expected(v)` (to `tol`), and its sums are its own.
    let graph_checks = |out: &mut String,
                        args: &str,
                        expected: &dyn Fn(&str) -> String,
                        tol: &str| {
        let _ = writeln!(
            out,
            "    let z_graph = {module}::graph_with({args}, 100_000);"
        );
        for param in &f.params {
            let v = &param.name;
            let want = expected(v);
            match param.ty {
                PTy::Scalar | PTy::RefScalar => {
                    let _ = writeln!(out, "    compare(\"graph d{v}\", &[z_graph.node(\"{v}\").and_then(|n| n.adjoint).unwrap_or(f64::NAN)], &[({want}) as f64], {tol})?;");
                }
                PTy::Slice | PTy::Array | PTy::ArrayRef | PTy::VecRef => {
                    let want = want.replace(&format!(".{v}"), &format!(".{v}[z_i]"));
                    let _ = writeln!(out, "    if let Some(backprop_runtime::graph::Shown::Array {{ head, .. }}) = z_graph.node(\"{v}\").and_then(|n| n.gradient.clone()) {{ let z_head: Vec<f64> = (0..head.len()).map(|z_i| ({want}) as f64).collect(); compare(\"graph d{v}\", &head, &z_head, {tol})?; }} else {{ return Err(\"graph: no gradient for {v}\".into()); }}");
                }
                _ => {}
            }
        }
        out.push_str("    check_graph(&z_graph, z_tol)?;\n");
    };
    // 5. grad or jacobian, where there are no `&mut` parameters.
    let has_mut = f
        .params
        .iter()
        .any(|q| matches!(q.ty, PTy::MutScalar | PTy::MutSlice));
    if !has_mut {
        let args = call("grad", out);
        match &f.ret {
            Ret::Scalar(_) => {
                let _ = writeln!(out, "    let (z_gv, z_gg) = {grad_fn}({args});");
                out.push_str(
                    "    compare(\"grad value\", &[z_gv as f64], &z_plain_out, 1e-12)?;\n",
                );
                let flat = flatten("z_gg", out);
                let _ = writeln!(
                    out,
                    "    compare(\"grad\", &{flat}, &vjp(&z_tangents, &[1.0], 1.0), z_tol)?;"
                );
                // The picture: every loop drawn whole, the parameters'
                // adjoints `grad`'s to the bit, and its sums its own.
                // (Fresh arguments: the function may change an index list.)
                if !method {
                    let args = call("graph", out);
                    graph_checks(out, &args, &|v| format!("z_gg.{v}"), "0.0");
                }
            }
            Ret::Pair(..) | Ret::Array(..) => {
                let _ = writeln!(out, "    let (_z_jv, z_rows) = {module}::jacobian({args});");
                for k in 0..2 {
                    let row = format!("z_rows[{k}]");
                    let flat = flatten(&row, out);
                    let unit = if k == 0 { "[1.0, 0.0]" } else { "[0.0, 1.0]" };
                    let _ = writeln!(out, "    compare(\"jacobian row {k}\", &{flat}, &vjp(&z_tangents, &{unit}, 1.0), z_tol)?;");
                }
                // The picture's seed is one on each output: the rows' sum.
                if !method {
                    let args = call("graph", out);
                    graph_checks(
                        out,
                        &args,
                        &|v| format!("z_rows[0].{v} + z_rows[1].{v}"),
                        "z_tol",
                    );
                }
            }
            Ret::Unit => {}
            Ret::Struct(..) => unreachable!("main returns no struct"),
        }
    }
    // 6. Forward mode, where the macro generates it (one float result,
    // parameters by value or `&[..]`, calls that only read their arguments
    // and are not passed straight to another call): the tangent along a
    // direction is the Jacobian's columns weighted by it.
    let shape = format!("{:?}", f);
    // A call's value passed on to another call, straight or bound to a
    // name, is covered: a float shown by arithmetic has its own tangent, a
    // value only passed on is chained through the pullbacks. (A buffer, a
    // float or a `&mut` parameter lent `&mut` to a helper is covered too:
    // each element's tangent from a pullback of its own.)
    let plain_params = f.params.iter().all(|q| {
        !matches!(
            q.ty,
            PTy::MutScalar | PTy::MutSlice | PTy::RefScalar | PTy::IntList
        )
    });
    let returned = !matches!(f.ret, Ret::Unit);
    // Forward mode takes `&f64` too (its tangent is a float).
    // and `&mut` ones (their tangents are updated in place; `tangents` and
    // `jacobian_fwd` are for functions without them).
    let forward_params = f.params.iter().all(|q| !matches!(q.ty, PTy::IntList));
    if (returned || has_mut) && forward_params && p.model.is_none() {
        let args = call("tangent", out);
        let mut directions = Vec::new();
        let mut tangent_args = Vec::new();
        // `tangents` gets two directions: the one above and a second.
        let mut second = Vec::new();
        let mut lanes_args = Vec::new();
        for (param, off) in f.params.iter().zip(&offsets) {
            let v = &param.name;
            match param.ty {
                // (Each with two lanes for `tangents`, the first the same
                // direction: `z_l_` for a float, `z_l0_`/`z_l1_` for a slice.)
                PTy::MutScalar => {
                    let _ = writeln!(
                        out,
                        "    let mut z_dt_{v}: {ty} = {};",
                        float_digits(0.5 - 0.25 * (*off % 5) as f64)
                    );
                    directions.push(format!("vec![z_dt_{v} as f64]"));
                    tangent_args.push(format!("&mut z_dt_{v}"));
                    let _ = writeln!(
                        out,
                        "    let mut z_l_{v}: [{ty}; 2] = [z_dt_{v}, {}];",
                        float_digits(-0.375 + 0.5 * (*off % 3) as f64)
                    );
                    second.push(format!("vec![z_l_{v}[1] as f64]"));
                    lanes_args.push(format!("&mut z_l_{v}"));
                }
                PTy::MutSlice => {
                    let _ = writeln!(out, "    let mut z_dt_{v}: Vec<{ty}> = (0..{}).map(|i| (0.75 - 0.125 * ((i + {off}) % 7) as f64) as {ty}).collect();", p.len);
                    directions.push(format!(
                        "z_dt_{v}.iter().map(|&x| x as f64).collect::<Vec<f64>>()"
                    ));
                    tangent_args.push(format!("&mut z_dt_{v}"));
                    let _ = writeln!(out, "    let mut z_l0_{v}: Vec<{ty}> = z_dt_{v}.clone();");
                    let _ = writeln!(out, "    let mut z_l1_{v}: Vec<{ty}> = (0..{}).map(|i| (0.5 * ((i * 3 + {off}) % 5) as f64 - 1.0) as {ty}).collect();", p.len);
                    second.push(format!(
                        "z_l1_{v}.iter().map(|&x| x as f64).collect::<Vec<f64>>()"
                    ));
                    lanes_args.push(format!("[&mut z_l0_{v}[..], &mut z_l1_{v}[..]]"));
                }
                PTy::Scalar | PTy::RefScalar => {
                    let _ = writeln!(
                        out,
                        "    let z_t_{v}: {ty} = {};",
                        float_digits(0.5 - 0.25 * (*off % 5) as f64)
                    );
                    directions.push(format!("vec![z_t_{v} as f64]"));
                    tangent_args.push(format!("z_t_{v}"));
                    let _ = writeln!(
                        out,
                        "    let z_s_{v}: {ty} = {};",
                        float_digits(-0.375 + 0.5 * (*off % 3) as f64)
                    );
                    second.push(format!("vec![z_s_{v} as f64]"));
                    lanes_args.push(format!("[z_t_{v}, z_s_{v}]"));
                }
                PTy::Array | PTy::ArrayRef => {
                    let _ = writeln!(out, "    let z_t_{v}: [{ty}; {}] = std::array::from_fn(|i| (0.75 - 0.125 * ((i + {off}) % 7) as f64) as {ty});", p.len);
                    directions.push(format!(
                        "z_t_{v}.iter().map(|&x| x as f64).collect::<Vec<f64>>()"
                    ));
                    let amp = if param.ty == PTy::ArrayRef { "&" } else { "" };
                    tangent_args.push(format!("{amp}z_t_{v}"));
                    let _ = writeln!(out, "    let z_s_{v}: [{ty}; {}] = std::array::from_fn(|i| (0.5 * ((i * 3 + {off}) % 5) as f64 - 1.0) as {ty});", p.len);
                    second.push(format!(
                        "z_s_{v}.iter().map(|&x| x as f64).collect::<Vec<f64>>()"
                    ));
                    lanes_args.push(format!("[z_t_{v}, z_s_{v}]"));
                }
                PTy::Slice | PTy::VecRef => {
                    let _ = writeln!(out, "    let z_t_{v}: Vec<{ty}> = (0..{}).map(|i| (0.75 - 0.125 * ((i + {off}) % 7) as f64) as {ty}).collect();", p.len);
                    directions.push(format!(
                        "z_t_{v}.iter().map(|&x| x as f64).collect::<Vec<f64>>()"
                    ));
                    tangent_args.push(format!("&z_t_{v}"));
                    let _ = writeln!(out, "    let z_s_{v}: Vec<{ty}> = (0..{}).map(|i| (0.5 * ((i * 3 + {off}) % 5) as f64 - 1.0) as {ty}).collect();", p.len);
                    second.push(format!(
                        "z_s_{v}.iter().map(|&x| x as f64).collect::<Vec<f64>>()"
                    ));
                    lanes_args.push(format!("[&z_t_{v}[..], &z_s_{v}[..]]"));
                }
                _ => {}
            }
        }
        let _ = writeln!(
            out,
            "    let z_direction: Vec<f64> = [{}].concat();",
            directions.join(", ")
        );
        let all_args = if tangent_args.is_empty() {
            args.clone()
        } else {
            format!("{args}, {}", tangent_args.join(", "))
        };
        let _ = writeln!(
            out,
            "    let z_second: Vec<f64> = [{}].concat();",
            second.join(", ")
        );
        let lanes_all = if lanes_args.is_empty() {
            args.clone()
        } else {
            format!("{args}, {}", lanes_args.join(", "))
        };
        // Each output's tangent as f64s, from a tangent of the result's shape.
        let outputs = |t: &str| match f.ret {
            Ret::Scalar(_) => format!("[{t} as f64]"),
            Ret::Pair(..) => format!("[{t}.0 as f64, {t}.1 as f64]"),
            _ => format!("[{t}[0] as f64, {t}[1] as f64]"),
        };
        out.push_str("    let z_along: Vec<f64> = (0..z_plain_out.len()).map(|o| z_tangents.iter().zip(&z_direction).map(|(t, u)| t[o] * u).sum()).collect();\n");
        if has_mut {
            // The results, then the `&mut` parameters' values, each with its
            // tangent updated in place.
            let _ = writeln!(out, "    let z_tr = {module}::tangent({all_args});");
            let result = if returned {
                out.push_str("    let (z_tv, z_tt) = z_tr;\n");
                "z_tv"
            } else {
                "z_tr"
            };
            collect("tangent", result, out);
            out.push_str(
                "    compare(\"tangent values\", &z_tangent_out, &z_plain_out, 1e-12)?;\n",
            );
            let _ = writeln!(
                out,
                "    let mut z_dots: Vec<f64> = {}.to_vec();",
                if returned {
                    outputs("z_tt")
                } else {
                    "Vec::<f64>::new()".into()
                }
            );
            for param in &f.params {
                let v = &param.name;
                match param.ty {
                    PTy::MutScalar => {
                        let _ = writeln!(out, "    z_dots.push(z_dt_{v} as f64);");
                    }
                    PTy::MutSlice => {
                        let _ = writeln!(
                            out,
                            "    z_dots.extend(z_dt_{v}.iter().map(|&x| x as f64));"
                        );
                    }
                    _ => {}
                }
            }
            out.push_str("    compare(\"tangent\", &z_dots, &z_along, z_tol)?;\n");
            // `tangents`, two lanes: the first is `tangent`'s to the bit
            // (the value's tangents, then the `&mut` parameters'), the
            // second matches the oracle along the second direction.
            let args = call("tangents", out);
            let lanes_all = if lanes_args.is_empty() {
                args
            } else {
                format!("{args}, {}", lanes_args.join(", "))
            };
            let _ = writeln!(out, "    let z_lr = {module}::tangents({lanes_all});");
            let lane_value = |k: usize| {
                if returned {
                    outputs(&format!("z_lr.1[{k}]"))
                } else {
                    "[]".into()
                }
            };
            for k in 0..2 {
                let _ = writeln!(
                    out,
                    "    let mut z_lane{k}: Vec<f64> = {}.to_vec();",
                    lane_value(k)
                );
                for param in &f.params {
                    let v = &param.name;
                    match param.ty {
                        PTy::MutScalar => {
                            let _ = writeln!(out, "    z_lane{k}.push(z_l_{v}[{k}] as f64);");
                        }
                        PTy::MutSlice => {
                            let _ = writeln!(
                                out,
                                "    z_lane{k}.extend(z_l{k}_{v}.iter().map(|&x| x as f64));"
                            );
                        }
                        _ => {}
                    }
                }
            }
            out.push_str("    compare(\"tangents lane 0\", &z_lane0, &z_dots, 0.0)?;\n");
            out.push_str("    let z_along2: Vec<f64> = (0..z_plain_out.len()).map(|o| z_tangents.iter().zip(&z_second).map(|(t, u)| t[o] * u).sum()).collect();\n");
            out.push_str("    compare(\"tangents lane 1\", &z_lane1, &z_along2, z_tol)?;\n");
            // `jacobian_fwd`: one row per output (the value's, then the
            // `&mut` parameters' final elements), each the oracle's `e_r · J`.
            let args = call("jacobian_fwd", out);
            let _ = writeln!(
                out,
                "    let (_z_jmv, z_jm) = {module}::jacobian_fwd({args});"
            );
            out.push_str("    if z_jm.len() != z_plain_out.len() { return Err(format!(\"jacobian_fwd has {} rows for {} outputs\", z_jm.len(), z_plain_out.len())); }\n");
            out.push_str("    for z_r in 0..z_jm.len() {\n");
            out.push_str("    let z_row = &z_jm[z_r];\n");
            let flat = flatten("z_row", out);
            out.push_str(
                "    let mut z_unit = vec![0.0; z_plain_out.len()];\n    z_unit[z_r] = 1.0;\n",
            );
            let _ = writeln!(out, "    compare(\"jacobian_fwd row\", &{flat}, &vjp(&z_tangents, &z_unit, 1.0), z_tol)?;");
            out.push_str("    }\n");
            out.push_str("    Ok(\"pass\".into())\n}\n");
            return;
        }
        let _ = writeln!(out, "    let (z_tv, z_tt) = {module}::tangent({all_args});");
        let _ = writeln!(
            out,
            "    compare(\"tangent value\", &{}, &z_plain_out, 1e-12)?;",
            outputs("z_tv")
        );
        let _ = writeln!(
            out,
            "    compare(\"tangent\", &{}, &z_along, z_tol)?;",
            outputs("z_tt")
        );
        // Two lanes: the first is `tangent`'s to the bit, the second matches
        // the oracle along the second direction.
        let _ = writeln!(
            out,
            "    let (z_lv, z_lt) = {module}::tangents({lanes_all});"
        );
        let _ = writeln!(
            out,
            "    compare(\"tangents value\", &{}, &z_plain_out, 0.0)?;",
            outputs("z_lv")
        );
        let _ = writeln!(
            out,
            "    compare(\"tangents lane 0\", &{}, &{}, 0.0)?;",
            outputs("z_lt[0]"),
            outputs("z_tt")
        );
        out.push_str("    let z_along2: Vec<f64> = (0..z_plain_out.len()).map(|o| z_tangents.iter().zip(&z_second).map(|(t, u)| t[o] * u).sum()).collect();\n");
        let _ = writeln!(
            out,
            "    compare(\"tangents lane 1\", &{}, &z_along2, z_tol)?;",
            outputs("z_lt[1]")
        );
        // `jacobian_fwd`: forward mode's `grad` or `jacobian`.
        let args = call("jacobian_fwd", out);
        let _ = writeln!(
            out,
            "    let (_z_jfv, z_jf) = {module}::jacobian_fwd({args});"
        );
        match &f.ret {
            Ret::Scalar(_) => {
                let flat = flatten("z_jf", out);
                let _ = writeln!(
                    out,
                    "    compare(\"jacobian_fwd\", &{flat}, &vjp(&z_tangents, &[1.0], 1.0), z_tol)?;"
                );
            }
            _ => {
                for k in 0..2 {
                    let flat = flatten(&format!("z_jf[{k}]"), out);
                    let unit = if k == 0 { "[1.0, 0.0]" } else { "[0.0, 1.0]" };
                    let _ = writeln!(out, "    compare(\"jacobian_fwd row {k}\", &{flat}, &vjp(&z_tangents, &{unit}, 1.0), z_tol)?;");
                }
            }
        }
    }
    // 7. Second order, where the macro generates `hvp` (generic programs, and
    // `f64` programs through their twin, with one float result and plain
    // parameters): its value and gradient are
    // `grad`'s, and its H v matches central differences of the generated
    // gradient along v (the oracle is first order; the gradient is checked
    // against it above).
    // An `f64` program has `hvp` through its twin over a generic float when
    // it calls nothing but closures, casts no float to `f32` and builds no
    // struct.
    let twin = p.float == Float::F64
        && ![
            "Call(\"",
            "CallStmt",
            "LetPair",
            "CustomRule",
            "Cast(",
            "StepStruct",
            "LetStruct",
        ]
        .iter()
        .any(|c| shape.contains(c));
    if (p.float == Float::Generic || twin)
        && matches!(f.ret, Ret::Scalar(_))
        && plain_params
        && p.model.is_none()
        && !shape.contains("CustomRule")
    {
        // The arguments at `x + t v`, for `t` in {0, h, -h}.
        let shifted = |tag: &str, t: &str, out: &mut String| -> String {
            let mut args = Vec::new();
            for (param, off) in f.params.iter().zip(&offsets) {
                let v = &param.name;
                let step = |i: &str| format!("({t}) * (0.5 - 0.125 * (({i} + {off}) % 5) as f64)");
                match param.ty {
                    PTy::Scalar => {
                        let _ = writeln!(out, "    let z_{tag}_{v} = z_u_{v} + {};", step("0"));
                        args.push(format!("z_{tag}_{v}"));
                    }
                    PTy::Array | PTy::ArrayRef => {
                        let _ = writeln!(out, "    let z_{tag}_{v}: [f64; {}] = std::array::from_fn(|i| z_u_{v}[i] + {});", p.len, step("i"));
                        let amp = if param.ty == PTy::ArrayRef { "&" } else { "" };
                        args.push(format!("{amp}z_{tag}_{v}"));
                    }
                    PTy::Slice | PTy::VecRef => {
                        let _ = writeln!(out, "    let z_{tag}_{v}: Vec<f64> = z_u_{v}.iter().enumerate().map(|(i, &x)| x + {}).collect();", step("i"));
                        args.push(format!("&z_{tag}_{v}"));
                    }
                    PTy::Data => args.push(format!("&z_u_{v}")),
                    _ => args.push(format!("z_u_{v}")),
                }
            }
            args.join(", ")
        };
        // `z_hd_*`: the point moved by one whole direction.
        shifted("hd", "1.0", out);
        let at = call("hvp", out);
        // The direction alone: the unit shift minus the point.
        let mut directions = Vec::new();
        for param in &f.params {
            let v = &param.name;
            match param.ty {
                PTy::Scalar => directions.push(format!("z_hd_{v} - z_u_{v}")),
                PTy::Array => {
                    directions.push(format!("std::array::from_fn(|i| z_hd_{v}[i] - z_u_{v}[i])"))
                }
                PTy::ArrayRef => {
                    let _ = writeln!(out, "    let z_hdir_{v}: [f64; {}] = std::array::from_fn(|i| z_hd_{v}[i] - z_u_{v}[i]);", p.len);
                    directions.push(format!("&z_hdir_{v}"));
                }
                PTy::Slice | PTy::VecRef => {
                    let _ = writeln!(out, "    let z_hdir_{v}: Vec<f64> = z_hd_{v}.iter().zip(&z_u_{v}).map(|(a, b)| a - b).collect();");
                    directions.push(format!("&z_hdir_{v}"));
                }
                _ => {}
            }
        }
        let all = if directions.is_empty() {
            at.clone()
        } else {
            format!("{at}, {}", directions.join(", "))
        };
        let _ = writeln!(out, "    let (z_hvv, z_hvg, z_hvh) = {module}::hvp({all});");
        out.push_str("    compare(\"hvp value\", &[z_hvv as f64], &z_plain_out, 1e-12)?;\n");
        let hvg = flatten("z_hvg", out);
        let _ = writeln!(out, "    let (_, z_hgg) = {grad_fn}({at});");
        let hgg = flatten("z_hgg", out);
        let _ = writeln!(out, "    compare(\"hvp gradient\", &{hvg}, &{hgg}, 1e-9)?;");
        let plus = shifted("hp", "1e-5", out);
        let minus = shifted("hm", "-1e-5", out);
        let _ = writeln!(out, "    let (_, z_hgp) = {grad_fn}({plus});");
        let _ = writeln!(out, "    let (_, z_hgm) = {grad_fn}({minus});");
        let gp = flatten("z_hgp", out);
        let gm = flatten("z_hgm", out);
        let hvh = flatten("z_hvh", out);
        let _ = writeln!(out, "    let z_hfd: Vec<f64> = {gp}.iter().zip(&{gm}).map(|(a, b)| (a - b) / 2e-5).collect();");
        let _ = writeln!(out, "    compare(\"hvp\", &{hvh}, &z_hfd, 1e-4)?;");
    }
    out.push_str("    Ok(\"pass\".into())\n}\n");
}
