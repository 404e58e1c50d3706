//! Prints a program as user code (over `f64`, `f32` or a generic `T: Float`)
//! or as the oracle's code over dual numbers `D`.

use crate::ast::*;
use std::cell::Cell;
use std::fmt::Write;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialect {
    F64,
    F32,
    Generic,
    Dual,
}

impl Dialect {
    pub fn of(float: Float) -> Dialect {
        match float {
            Float::F64 => Dialect::F64,
            Float::F32 => Dialect::F32,
            Float::Generic => Dialect::Generic,
        }
    }

    pub fn ty(self) -> &'static str {
        match self {
            Dialect::F64 => "f64",
            Dialect::F32 => "f32",
            Dialect::Generic => "T",
            Dialect::Dual => "D",
        }
    }

    fn lit(self, x: f64) -> String {
        let digits = float_digits(x);
        match self {
            Dialect::F64 | Dialect::F32 => digits,
            Dialect::Generic => match digits.as_str() {
                "0.0" => "T::zero()".into(),
                "1.0" => "T::one()".into(),
                _ => format!("T::from({digits}).unwrap()"),
            },
            Dialect::Dual => format!("D::c({digits})"),
        }
    }

    /// A literal that receives a method call must say its type.
    fn receiver_lit(self, x: f64) -> String {
        match self {
            Dialect::F64 | Dialect::F32 => format!("{}_{}", float_digits(x), self.ty()),
            _ => self.lit(x),
        }
    }

    /// Compound assignment; `Float` has no `AddAssign`, so generic code writes
    /// `a = a + b`, and so does the oracle (an overloaded `b[1] += b[0]` would
    /// borrow `b` twice).
    fn compound(self, place: &str, op: Option<char>, value: &str) -> String {
        match op {
            None => format!("{place} = {value};"),
            Some(op) if matches!(self, Dialect::Generic | Dialect::Dual) => {
                format!("{place} = {place} {op} {value};")
            }
            Some(op) => format!("{place} {op}= {value};"),
        }
    }
}

/// `main` as the marked method `f(&self, ..)` of `Model`, the struct printed
/// with it.
pub fn method(f: &Func, d: Dialect, len: usize, out: &mut String) {
    let ty = d.ty();
    let _ = writeln!(out, "pub struct Model {{ pub w: Vec<{ty}>, pub b: {ty} }}");
    if d != Dialect::Dual {
        out.push_str("#[differentiate]\n");
    }
    out.push_str("impl Model {\n");
    // A second marked method, which `f` may call as `self.g(..)`.
    if d != Dialect::Dual {
        out.push_str("#[differentiate]\n");
    }
    let _ = writeln!(
        out,
        "pub fn g(&self, t: {ty}) -> {ty} {{ (self.b * t).tanh() + self.w[1] * t }}"
    );
    let mut free = String::new();
    function(f, d, len, &mut free);
    let receiver = if f.params.is_empty() {
        "&self"
    } else {
        "&self, "
    };
    out.push_str(&free.replacen("pub fn f(", &format!("pub fn f({receiver}"), 1));
    out.push_str("}\n");
}

/// `main` as the free function `f(model: &Model, ..)` of a `Model` that
/// derives `Differentiable`: the method's body with `self.w`, `self.b` read
/// as `model.w`, `model.b`, and the other method `g` a differentiated
/// function of the fields.
/// With `whole`, `g` takes the model itself: `model_g(model, t)`.
pub fn model_function(
    f: &Func,
    d: Dialect,
    len: usize,
    (whole, sliced, held): (bool, bool, bool),
    out: &mut String,
) {
    let ty = d.ty();
    out.push_str("#[derive(backprop_runtime::Differentiable)]\n");
    let _ = writeln!(out, "pub struct Model {{ pub w: Vec<{ty}>, pub b: {ty} }}");
    if held {
        out.push_str("#[derive(backprop_runtime::Differentiable)]\n");
        out.push_str("pub struct Holder { pub models: Vec<Model> }\n");
    }
    out.push_str("#[differentiate]\n");
    let call = if whole {
        let _ = writeln!(
            out,
            "pub fn model_g(model: &Model, t: {ty}) -> {ty} {{ (model.b * t).tanh() + model.w[1] * t }}"
        );
        "model_g(model, "
    } else {
        let _ = writeln!(
            out,
            "pub fn model_g(w: &[{ty}], b: {ty}, t: {ty}) -> {ty} {{ (b * t).tanh() + w[1] * t }}"
        );
        "model_g(&model.w, model.b, "
    };
    let mut free = String::new();
    function(f, d, len, &mut free);
    let (param, name) = match (sliced, held) {
        (true, true) => ("holder: &Holder", "holder"),
        (true, false) => ("models: &[Model]", "models"),
        (false, _) => ("model: &Model", "model"),
    };
    let model = if f.params.is_empty() {
        param.to_string()
    } else {
        format!("{param}, ")
    };
    let mut free = free
        .replacen("pub fn f(", &format!("pub fn f({model}"), 1)
        .replace("self.g(", call)
        .replace("self.", "model.")
        .replacen(
            "#[differentiate(wrt(",
            &format!("#[differentiate(wrt({name}, "),
            1,
        );
    if sliced {
        // The element read, named at the top of the body.
        if let Some(at) = free.find("pub fn f(") {
            if let Some(open) = free[at..].find("{\n") {
                let element = match held {
                    true => "    let model = &holder.models[1];\n",
                    false => "    let model = &models[1];\n",
                };
                free.insert_str(at + open + 2, element);
            }
        }
    }
    out.push_str(&free);
}

pub fn float_digits(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Prints one function; `attr` is false for the oracle's copy.
pub fn function(f: &Func, d: Dialect, len: usize, out: &mut String) {
    let plain = f.plain && matches!(d, Dialect::F64 | Dialect::F32);
    if d != Dialect::Dual && !plain {
        // An `f64` function that calls nothing asks for second order (its
        // twin over a generic float), which the harness then checks.
        let shape = format!("{f:?}");
        let second_order = d == Dialect::F64
            && ![
                "Call(\"",
                "CallStmt",
                "LetPair",
                "CustomRule",
                "StepStruct",
                "LetStruct",
            ]
            .iter()
            .any(|c| shape.contains(c));
        let mut args = Vec::new();
        if f.wrt {
            let names: Vec<&str> = f
                .params
                .iter()
                .filter(|p| !matches!(p.ty, PTy::Data | PTy::Int | PTy::IntList))
                .map(|p| p.name.as_str())
                .collect();
            args.push(format!("wrt({})", names.join(", ")));
        }
        if second_order {
            args.push("second_order".to_string());
        }
        if f.inline {
            out.push_str("#[inline]\n");
        }
        if args.is_empty() {
            out.push_str("#[differentiate]\n");
        } else {
            let _ = writeln!(out, "#[differentiate({})]", args.join(", "));
        }
    }
    let ty = d.ty();
    let generics = if d == Dialect::Generic {
        "<T: Float>"
    } else {
        ""
    };
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| {
            let t = match p.ty {
                PTy::Scalar => ty.to_string(),
                PTy::Slice | PTy::Data => format!("&[{ty}]"),
                PTy::MutSlice => format!("&mut [{ty}]"),
                PTy::MutScalar => format!("&mut {ty}"),
                PTy::RefScalar => format!("&{ty}"),
                PTy::Array => format!("[{ty}; {len}]"),
                PTy::ArrayRef => format!("&[{ty}; {len}]"),
                PTy::VecRef => format!("&Vec<{ty}>"),
                PTy::Int => "usize".into(),
                PTy::IntList => "&mut [usize]".into(),
                PTy::Struct => format!("St<{ty}>"),
            };
            format!("{}: {t}", p.name)
        })
        .collect();
    let ret = match &f.ret {
        Ret::Scalar(_) => format!(" -> {ty}"),
        Ret::Pair(..) if f.pairs != Pairs::Tuple && f.name != "f" => format!(" -> [{ty}; 2]"),
        Ret::Pair(..) => format!(" -> ({ty}, {ty})"),
        Ret::Array(..) => format!(" -> [{ty}; 2]"),
        Ret::Struct(..) => format!(" -> St<{ty}>"),
        Ret::Unit => String::new(),
    };
    let _ = writeln!(
        out,
        "pub fn {}{generics}({}){ret} {{",
        f.name,
        params.join(", ")
    );
    let p = Printer {
        d,
        len,
        mark: Cell::new(None),
        pairs: f.pairs,
        renamed: std::cell::RefCell::new(std::collections::HashMap::new()),
    };
    // A loop after a `return` is inside a branch: not marked.
    let mut returned = false;
    let checkpoint = f.checkpoint.filter(|_| d != Dialect::Dual);
    for s in &f.body {
        let is_loop = matches!(
            s,
            S::For { .. }
                | S::ForEach { .. }
                | S::ForStep { .. }
                | S::While { .. }
                | S::WhileFloat { .. }
                | S::Loop { .. }
        );
        if is_loop && !returned {
            p.mark.set(checkpoint);
        }
        p.stmt(s, 1, out);
        p.mark.set(None);
        returned |= format!("{s:?}").contains("Return(");
    }
    match &f.ret {
        Ret::Scalar(e) => {
            let _ = writeln!(out, "    {}", p.expr(e));
        }
        // (A helper's: the main function's results are the harness's tuple.)
        Ret::Pair(a, b) if f.pairs != Pairs::Tuple && f.name != "f" => {
            let _ = writeln!(out, "    [{}, {}]", p.expr(a), p.expr(b));
        }
        // Half of them end in a branch whose arms are tuples: chosen by the
        // expression's tree (so no draw changes the programs a seed makes),
        // not by its printed text, which differs between the function
        // (`T::from(0.5).unwrap()`) and its oracle (`D::c(0.5)`).
        Ret::Pair(a, b) if format!("{a:?}").len().is_multiple_of(2) => {
            let (a, b) = (p.expr(a), p.expr(b));
            let _ = writeln!(
                out,
                "    if {a} > {b} {{ ({a}, {b}) }} else {{ ({b}, {a}) }}"
            );
        }
        Ret::Pair(a, b) => {
            let _ = writeln!(out, "    ({}, {})", p.expr(a), p.expr(b));
        }
        Ret::Array(a, b) => {
            let _ = writeln!(out, "    [{}, {}]", p.expr(a), p.expr(b));
        }
        Ret::Struct(a, Some(b)) => {
            let _ = writeln!(out, "    St {{ a: {}, b: {} }}", p.expr(a), p.expr(b));
        }
        Ret::Struct(a, None) => {
            let _ = writeln!(out, "    St {{ a: {}, ..s }}", p.expr(a));
        }
        Ret::Unit => {}
    }
    out.push_str("}\n");
}

struct Printer {
    d: Dialect,
    /// The length of every slice and buffer.
    len: usize,
    /// The snapshots of the `#[checkpoint]` the next loop printed gets.
    mark: Cell<Option<usize>>,
    pairs: Pairs,
    /// The names of a pair bound whole, as they are read: `p_q[0]`.
    renamed: std::cell::RefCell<std::collections::HashMap<String, String>>,
}

fn pad(depth: usize) -> String {
    "    ".repeat(depth)
}

impl Printer {
    /// `#[checkpoint(..)]` before a marked loop's header.
    fn checkpoint(&self, p: &str, out: &mut String) {
        // Taken: the loops inside it are not marked.
        if let Some(k) = self.mark.take() {
            let _ = writeln!(out, "{p}#[checkpoint(snapshots = {k})]");
        }
    }

    /// A `while`'s or `loop`'s counter, then the loop's mark: a marked
    /// loop keeps its counter, whose type must then be written.
    fn counter(&self, counter: &str, p: &str, out: &mut String) {
        match self.mark.get() {
            Some(_) => {
                let _ = writeln!(out, "{p}let mut {counter}: usize = 0;");
            }
            None => {
                let _ = writeln!(out, "{p}let mut {counter} = 0;");
            }
        }
        self.checkpoint(p, out);
    }

    fn block(&self, body: &[S], depth: usize, out: &mut String) {
        for s in body {
            self.stmt(s, depth + 1, out);
        }
    }

    fn stmt(&self, s: &S, depth: usize, out: &mut String) {
        let p = pad(depth);
        let d = self.d;
        let ty = d.ty();
        match s {
            S::Let {
                name,
                mutable,
                annot,
                value,
            } => {
                let m = if *mutable { "mut " } else { "" };
                let a = if *annot {
                    format!(": {ty}")
                } else {
                    String::new()
                };
                let _ = writeln!(out, "{p}let {m}{name}{a} = {};", self.expr(value));
            }
            S::View {
                name,
                array,
                lo,
                hi,
                inclusive,
            } => {
                let range = match inclusive {
                    true => format!("{lo}..={}", hi - 1),
                    false => format!("{lo}..{hi}"),
                };
                let _ = writeln!(out, "{p}let {name} = &{array}[{range}];");
            }
            S::Chunks {
                name,
                array,
                size,
                exact,
            } => {
                let method = if *exact { "chunks_exact" } else { "chunks" };
                let _ = writeln!(
                    out,
                    "{p}let {name}: Vec<_> = {array}.{method}({size}).collect();"
                );
            }
            S::IntLet { name, value } => {
                let _ = writeln!(out, "{p}let {name}: usize = {};", int(value));
            }
            S::Assign { name, op, value } => {
                let _ = writeln!(out, "{p}{}", d.compound(name, *op, &self.expr(value)));
            }
            S::AssignDeref { name, op, value } => {
                let place = format!("*{name}");
                let _ = writeln!(out, "{p}{}", d.compound(&place, *op, &self.expr(value)));
            }
            S::Buf {
                name,
                vec,
                annot,
                init,
            } => {
                let zero = d.lit(0.0);
                let (value, len) = match init {
                    BufInit::Zeros(None) => (None, None),
                    BufInit::Zeros(Some(slice)) => {
                        (Some(format!("vec![{zero}; {slice}.len()]")), None)
                    }
                    BufInit::Elems(es) => {
                        let items: Vec<String> = es.iter().map(|e| self.expr(e)).collect();
                        let bang = if *vec { "vec!" } else { "" };
                        (
                            Some(format!("{bang}[{}]", items.join(", "))),
                            Some(es.len()),
                        )
                    }
                    BufInit::Chosen { cond, then, els } => {
                        let arm = |es: &Vec<E>| -> String {
                            let items: Vec<String> = es.iter().map(|e| self.expr(e)).collect();
                            format!("[{}]", items.join(", "))
                        };
                        (
                            Some(format!(
                                "if {} {{ {} }} else {{ {} }}",
                                self.cond(cond),
                                arm(then),
                                arm(els)
                            )),
                            Some(then.len()),
                        )
                    }
                    BufInit::Copy(slice) => (Some(format!("{slice}.to_vec()")), None),
                    BufInit::Collect { slice, var, body } => (
                        Some(format!(
                            "{slice}.iter().map(|&{var}| {}).collect()",
                            self.expr(body)
                        )),
                        None,
                    ),
                };
                let value = value.unwrap_or_else(|| {
                    if *vec {
                        format!("vec![{zero}; {}]", self.len)
                    } else {
                        format!("[{zero}; {}]", self.len)
                    }
                });
                let a = match (annot, vec) {
                    (false, _) => String::new(),
                    (true, true) => format!(": Vec<{ty}>"),
                    (true, false) => format!(": [{ty}; {}]", len.unwrap_or(self.len)),
                };
                // Every other copy of a slice into a vector is written as
                // a buffer filled by `copy_from_slice` (the same values;
                // not where the buffer takes the slice's name, which would
                // then name the buffer).
                let split = *vec && name.len() % 2 == 0;
                match init {
                    BufInit::Copy(slice) if split && name != slice => {
                        let _ =
                            writeln!(out, "{p}let mut {name}{a} = vec![{zero}; {slice}.len()];");
                        let _ = writeln!(out, "{p}{name}.copy_from_slice(&{slice}[..]);");
                    }
                    _ => {
                        let _ = writeln!(out, "{p}let mut {name}{a} = {value};");
                    }
                }
            }
            S::Write {
                name,
                idx,
                op,
                value,
            } => {
                let place = format!("{name}[{}]", int(idx));
                let _ = writeln!(out, "{p}{}", d.compound(&place, *op, &self.expr(value)));
            }
            S::ChunkWrite {
                var,
                index,
                array,
                size,
                exact,
                col,
                op,
                value,
            } => {
                let method = if *exact {
                    "chunks_exact_mut"
                } else {
                    "chunks_mut"
                };
                let chunks = format!("{array}.{method}({size})");
                let (pat, iter) = match index {
                    Some(i) => (format!("({i}, {var})"), format!("{chunks}.enumerate()")),
                    None => (var.clone(), chunks),
                };
                let place = format!("{var}[{col}]");
                let write = d.compound(&place, *op, &self.expr(value));
                let _ = writeln!(out, "{p}for {pat} in {iter} {{");
                let _ = writeln!(out, "{p}    {write}");
                let _ = writeln!(out, "{p}}}");
            }
            S::If { cond, then, els } => {
                let _ = writeln!(out, "{p}if {} {{", self.cond(cond));
                self.block(then, depth, out);
                if let Some(els) = els {
                    let _ = writeln!(out, "{p}}} else {{");
                    self.block(els, depth, out);
                }
                let _ = writeln!(out, "{p}}}");
            }
            S::For {
                label,
                var,
                lo,
                hi,
                rev,
                body,
            } => {
                let l = label.as_ref().map(|l| format!("{l}: ")).unwrap_or_default();
                let range = if *rev {
                    format!("({lo}..{}).rev()", int(hi))
                } else {
                    format!("{lo}..{}", int(hi))
                };
                self.checkpoint(&p, out);
                let _ = writeln!(out, "{p}{l}for {var} in {range} {{");
                self.block(body, depth, out);
                let _ = writeln!(out, "{p}}}");
            }
            S::ForEach {
                var,
                index,
                slice,
                by_ref,
                list,
                body,
            } => {
                let (element, zipped) = match list {
                    Some((r, j)) => (format!("(&{var}, &{j})"), format!(".zip({r}.iter())")),
                    None => (format!("&{var}"), String::new()),
                };
                let pat = match index {
                    Some(i) => format!("({i}, {element})"),
                    None => element,
                };
                let iter = match (index, by_ref, list) {
                    (Some(_), _, _) => format!("{slice}.iter(){zipped}.enumerate()"),
                    (None, true, _) | (None, false, Some(_)) => format!("{slice}.iter(){zipped}"),
                    (None, false, None) => format!("{slice}.iter().rev()"),
                };
                self.checkpoint(&p, out);
                let _ = writeln!(out, "{p}for {pat} in {iter} {{");
                self.block(body, depth, out);
                let _ = writeln!(out, "{p}}}");
            }
            S::While {
                counter,
                limit,
                body,
            } => {
                self.counter(counter, &p, out);
                let _ = writeln!(out, "{p}while {counter} < {limit} {{");
                let _ = writeln!(out, "{}{counter} += 1;", pad(depth + 1));
                self.block(body, depth, out);
                let _ = writeln!(out, "{p}}}");
            }
            S::Loop {
                counter,
                limit,
                body,
            } => {
                self.counter(counter, &p, out);
                let _ = writeln!(out, "{p}loop {{");
                let _ = writeln!(
                    out,
                    "{}if {counter} >= {limit} {{ break; }}",
                    pad(depth + 1)
                );
                let _ = writeln!(out, "{}{counter} += 1;", pad(depth + 1));
                self.block(body, depth, out);
                let _ = writeln!(out, "{p}}}");
            }
            S::Break(label) => {
                let l = label.as_ref().map(|l| format!(" {l}")).unwrap_or_default();
                let _ = writeln!(out, "{p}break{l};");
            }
            S::Continue(label) => {
                let l = label.as_ref().map(|l| format!(" {l}")).unwrap_or_default();
                let _ = writeln!(out, "{p}continue{l};");
            }
            S::Return(e) => {
                let _ = writeln!(out, "{p}return {};", self.expr(e));
            }
            S::Match { scrut, arms } => {
                let _ = writeln!(out, "{p}match {} {{", int(scrut));
                for (pat, body) in arms {
                    let _ = writeln!(out, "{}{pat} => {{", pad(depth + 1));
                    self.block(body, depth + 1, out);
                    let _ = writeln!(out, "{}}}", pad(depth + 1));
                }
                let _ = writeln!(out, "{p}}}");
            }
            S::FloatMatch { scrut, var, arms } => {
                let _ = writeln!(out, "{p}match {} {{", self.expr(scrut));
                for (guard, body) in arms {
                    let pat = match guard {
                        Some((op, c)) => format!("{var} if {var} {op} {}", d.lit(*c)),
                        None => var.clone(),
                    };
                    let _ = writeln!(out, "{}{pat} => {{", pad(depth + 1));
                    self.block(body, depth + 1, out);
                    let _ = writeln!(out, "{}}}", pad(depth + 1));
                }
                let _ = writeln!(out, "{p}}}");
            }
            S::Deferred {
                name,
                cond,
                then,
                els,
            } => {
                let _ = writeln!(out, "{p}let {name};");
                let _ = writeln!(out, "{p}if {} {{", self.cond(cond));
                let _ = writeln!(out, "{}{name} = {};", pad(depth + 1), self.expr(then));
                let _ = writeln!(out, "{p}}} else {{");
                let _ = writeln!(out, "{}{name} = {};", pad(depth + 1), self.expr(els));
                let _ = writeln!(out, "{p}}}");
            }
            S::Discard(e) => {
                let _ = writeln!(out, "{p}let _ = {};", self.expr(e));
            }
            S::CallStmt(name, args) => {
                let _ = writeln!(out, "{p}{name}({});", self.args(args));
            }
            S::ForStep {
                var,
                hi,
                step,
                body,
            } => {
                self.checkpoint(&p, out);
                let _ = writeln!(out, "{p}for {var} in (0..={hi}).step_by({step}) {{");
                self.block(body, depth, out);
                let _ = writeln!(out, "{p}}}");
            }
            S::WhileFloat {
                cond,
                counter,
                limit,
                body,
            } => {
                self.counter(counter, &p, out);
                let _ = writeln!(
                    out,
                    "{p}while {} && {counter} < {limit} {{",
                    self.cond(cond)
                );
                let _ = writeln!(out, "{}{counter} += 1;", pad(depth + 1));
                self.block(body, depth, out);
                let _ = writeln!(out, "{p}}}");
            }
            S::SinCos { names, value } => {
                let _ = writeln!(
                    out,
                    "{p}let ({}, {}) = {}.sin_cos();",
                    names[0],
                    names[1],
                    self.receiver(value)
                );
            }
            // Written both ways, by the names' lengths: a tuple assignment,
            // or `std::mem::swap`.
            S::Swap(a, b) if (a.len() + b.len()) % 2 == 0 => {
                let _ = writeln!(out, "{p}std::mem::swap(&mut {a}, &mut {b});");
            }
            S::Swap(a, b) => {
                let _ = writeln!(out, "{p}({a}, {b}) = ({b}, {a});");
            }
            S::IterMut { name, var, value } => {
                let _ = writeln!(out, "{p}for {var} in {name}.iter_mut() {{");
                let _ = writeln!(out, "{}*{var} = {};", pad(depth + 1), self.expr(value));
                let _ = writeln!(out, "{p}}}");
            }
            S::PushBuf {
                name,
                counter,
                len,
                value,
            } => {
                let _ = writeln!(out, "{p}let mut {name} = Vec::new();");
                let _ = writeln!(out, "{p}for {counter} in 0..{len} {{");
                let _ = writeln!(out, "{}{name}.push({});", pad(depth + 1), self.expr(value));
                let _ = writeln!(out, "{p}}}");
            }
            S::ListWrite { name, idx, value } => {
                let _ = writeln!(out, "{p}{name}[{}] = {};", int(idx), int(value));
            }
            S::LetTuple { names, values } => {
                let [a, b] = names;
                let _ = writeln!(out, "{p}let ({a}, {b}) = {};", self.pair(values));
            }
            S::LetTupleLocal { name, values } => {
                let _ = writeln!(out, "{p}let mut {name} = {};", self.pair(values));
            }
            S::AssignTuple { name, values } => {
                let _ = writeln!(out, "{p}{name} = {};", self.pair(values));
            }
            S::Closure { name, param, body } => {
                let _ = writeln!(out, "{p}let {name} = |{param}: {ty}| {};", self.expr(body));
            }
            S::LetStruct { name, init } => {
                let value = match init {
                    StructInit::Lit(a, b) => {
                        format!("St {{ a: {}, b: {} }}", self.expr(a), self.expr(b))
                    }
                    StructInit::Call { call, source, k } => {
                        format!("{call}({source}, {})", self.expr(k))
                    }
                    StructInit::Copy(source) => source.clone(),
                };
                let _ = writeln!(out, "{p}let mut {name} = {value};");
            }
            S::StepStruct { name, call, k } => {
                let _ = writeln!(out, "{p}{name} = {call}({name}, {});", self.expr(k));
            }
            S::LetPair { names, call, args } => match self.pairs {
                Pairs::Tuple => {
                    let _ = writeln!(
                        out,
                        "{p}let ({}, {}) = {call}({});",
                        names[0],
                        names[1],
                        self.args(args)
                    );
                }
                Pairs::Array => {
                    let _ = writeln!(
                        out,
                        "{p}let [{}, {}] = {call}({});",
                        names[0],
                        names[1],
                        self.args(args)
                    );
                }
                Pairs::Whole => {
                    let whole = format!("{}_{}", names[0], names[1]);
                    let _ = writeln!(out, "{p}let {whole} = {call}({});", self.args(args));
                    let mut renamed = self.renamed.borrow_mut();
                    for (k, name) in names.iter().enumerate() {
                        renamed.insert(name.clone(), format!("{whole}[{k}]"));
                    }
                }
            },
        }
    }

    fn args(&self, args: &[Arg]) -> String {
        let printed: Vec<String> = args
            .iter()
            .map(|a| match a {
                Arg::E(e) => self.expr(e),
                Arg::Slice(name, true) => format!("&{name}"),
                Arg::Slice(name, false) | Arg::MutSlice(name, false) => name.clone(),
                Arg::MutSlice(name, true) => format!("&mut {name}"),
                Arg::MutScalar(name) => format!("&mut {name}"),
                Arg::RefScalar(e) => format!("&{}", self.expr(e)),
                Arg::Int(i) => int(i),
                Arg::Part(name, lo, hi) => format!("&{name}[{lo}..{hi}]"),
                Arg::MutPart(name, lo, hi) => format!("&mut {name}[{lo}..{hi}]"),
            })
            .collect();
        printed.join(", ")
    }

    /// `(a, b)` of two expressions.
    fn pair(&self, values: &[E; 2]) -> String {
        format!("({}, {})", self.expr(&values[0]), self.expr(&values[1]))
    }

    fn cond(&self, c: &C) -> String {
        match c {
            C::Cmp(op, a, b) => format!("({} {op} {})", self.expr(a), self.expr(b)),
            C::ICmp(op, a, b) => format!("({} {op} {})", int(a), int(b)),
            C::And(a, b) => format!("({} && {})", self.cond(a), self.cond(b)),
            C::Or(a, b) => format!("({} || {})", self.cond(a), self.cond(b)),
            C::Not(a) => format!("!{}", self.cond(a)),
            C::ChainGt(chain, x) => format!("({} > {})", self.chain(chain), self.d.lit(*x)),
            C::Test(test, e) => format!("({}).{test}()", self.expr(e)),
        }
    }

    fn receiver(&self, e: &E) -> String {
        match e {
            E::Lit(x) => self.d.receiver_lit(*x),
            _ => self.expr(e),
        }
    }

    fn chain(&self, c: &Chain) -> String {
        let ty = self.d.ty();
        match c {
            Chain::SumMap { slice, adapter, var, body } => {
                let body = self.expr(body);
                let iter = match adapter {
                    Adapter::None => format!("{slice}.iter().map(|&{var}| {body})"),
                    Adapter::Rev => format!("{slice}.iter().rev().map(|&{var}| {body})"),
                    Adapter::Enumerate(i) => {
                        format!("{slice}.iter().enumerate().map(|({i}, &{var})| {body})")
                    }
                    Adapter::Filter(t) => format!(
                        "{slice}.iter().filter(|&&{var}| {var} > {}).map(|&{var}| {body})",
                        self.d.lit(*t)
                    ),
                    Adapter::Skip(k) => format!("{slice}.iter().skip({k}).map(|&{var}| {body})"),
                    Adapter::Copied => format!("{slice}.iter().copied().map(|{var}| {body})"),
                };
                format!("{iter}.sum::<{ty}>()")
            }
            Chain::Windows { slice, a, b, body } => format!(
                "{slice}.windows(2).map(|win| {{ let {a} = win[0]; let {b} = win[1]; {} }}).sum::<{ty}>()",
                self.expr(body)
            ),
            Chain::Zip { a, b, x, y, body } => format!(
                "{a}.iter().zip({b}.iter()).map(|(&{x}, &{y})| {}).sum::<{ty}>()",
                self.expr(body)
            ),
            Chain::Fold {
                slice,
                init,
                acc,
                var,
                body,
            } => format!(
                "{slice}.iter().fold({}, |{acc}, &{var}| {})",
                self.d.lit(*init),
                self.expr(body)
            ),
            Chain::FoldMax { slice } => {
                let init = match self.d {
                    Dialect::F64 => "f64::NEG_INFINITY".to_string(),
                    Dialect::F32 => "f32::NEG_INFINITY".to_string(),
                    Dialect::Generic => "T::neg_infinity()".to_string(),
                    Dialect::Dual => "D::c(f64::NEG_INFINITY)".to_string(),
                };
                format!("{slice}.iter().copied().fold({init}, {ty}::max)")
            }
            Chain::Product { slice, var, body } => {
                format!(
                    "{slice}.iter().map(|&{var}| {}).product::<{ty}>()",
                    self.expr(body)
                )
            }
        }
    }

    fn expr(&self, e: &E) -> String {
        let d = self.d;
        match e {
            E::Lit(x) => d.lit(*x),
            E::Var(v) => match self.renamed.borrow().get(v) {
                Some(read) => read.clone(),
                None => v.clone(),
            },
            E::Deref(v) => format!("(*{v})"),
            E::IntF(i) => match d {
                Dialect::F64 => format!("({} as f64)", int(i)),
                Dialect::F32 => format!("({} as f32)", int(i)),
                Dialect::Generic => format!("T::from({}).unwrap()", int(i)),
                Dialect::Dual => format!("D::c({} as f64)", int(i)),
            },
            E::Bin(op, a, b) => format!("({} {op} {})", self.expr(a), self.expr(b)),
            E::Neg(a) => format!("(-{})", self.expr(a)),
            E::M1(m, a) => format!("{}.{m}()", self.receiver(a)),
            E::Path1(m, a) => format!("{}::{m}({})", d.ty(), self.expr(a)),
            E::Powi(a, n) => format!("{}.powi({n})", self.receiver(a)),
            E::PowiVar(a, k) => format!("{}.powi({} as i32)", self.receiver(a), int(k)),
            E::CustomRule(a) => format!("crule({})", self.expr(a)),
            E::M2(m, a, b) => format!("{}.{m}({})", self.receiver(a), self.expr(b)),
            E::MulAdd(a, b, c) => {
                format!(
                    "{}.mul_add({}, {})",
                    self.receiver(a),
                    self.expr(b),
                    self.expr(c)
                )
            }
            E::Clamp(a, lo, hi) => {
                let lo = if *lo < 0.0 {
                    format!("-{}", d.lit(-lo))
                } else {
                    d.lit(*lo)
                };
                format!("{}.clamp({lo}, {})", self.receiver(a), d.lit(*hi))
            }
            E::Act(f, a) => format!("{f}({})", self.expr(a)),
            E::Index(s, i) => format!("{s}[{}]", int(i)),
            E::Branch(c, a, b) => format!(
                "(if {} {{ {} }} else {{ {} }})",
                self.cond(c),
                self.expr(a),
                self.expr(b)
            ),
            E::Call(f, args) => format!("{f}({})", self.args(args)),
            E::Chain(c) => self.chain(c),
            E::CallClosure(f, a) => format!("{f}({})", self.expr(a)),
            E::Cast(a) => match d {
                Dialect::F64 => format!("(({} as f32) as f64)", self.expr(a)),
                Dialect::F32 => format!("(f64::from({}) as f32)", self.expr(a)),
                // Generic code has no second float type to go through.
                Dialect::Generic => self.expr(a),
                Dialect::Dual => format!("{}.through_f32()", self.receiver(a)),
            },
            E::Pi => match d {
                Dialect::F64 => "std::f64::consts::PI".into(),
                Dialect::F32 => "std::f32::consts::PI".into(),
                Dialect::Generic => "T::from(std::f64::consts::PI).unwrap()".into(),
                Dialect::Dual => "D::c(std::f64::consts::PI)".into(),
            },
            E::Nan => match d {
                Dialect::F64 => "f64::NAN".into(),
                Dialect::F32 => "f32::NAN".into(),
                Dialect::Generic => "T::nan()".into(),
                Dialect::Dual => "D::c(f64::NAN)".into(),
            },
            E::Block(t, a, b) => format!("{{ let {t} = {}; {} }}", self.expr(a), self.expr(b)),
        }
    }
}

pub fn int(i: &I) -> String {
    match i {
        I::Lit(n) => n.to_string(),
        I::Var(v) => v.clone(),
        I::Len(s) => format!("{s}.len()"),
        I::AddMod(a, k, m) => format!("(({} + {k}) % {m})", int(a)),
        I::Mirror(a, m) => format!("({m} - 1 - {})", int(a)),
        I::ListRead(list, i) => format!("{list}[{}]", int(i)),
        I::Pred(n) => format!("({n} - 1)"),
    }
}
