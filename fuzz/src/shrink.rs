//! Shrinking: smaller variants of a failing program (a statement removed, a
//! block inlined, an expression replaced by one of its parts), tried in one
//! batch; the smallest that fails the same way wins, until none does.

use crate::ast::*;

/// Every one-step reduction of `p`, smallest first.
pub fn candidates(p: &Program) -> Vec<Program> {
    let mut out = Vec::new();
    for k in 0..p.helpers.len() {
        let mut q = p.clone();
        q.helpers.remove(k);
        out.push(q);
    }
    for which in 0..=p.helpers.len() {
        let count = count_stmts(body_of(&mut p.clone(), which));
        for n in 0..count {
            for variant in 0..3 {
                let mut q = p.clone();
                if edit_stmt(body_of(&mut q, which), &mut { n }, variant) {
                    out.push(q);
                }
            }
        }
    }
    let exprs = count_exprs(p);
    for n in 0..exprs {
        for variant in 0..4 {
            let mut q = p.clone();
            if edit_expr(&mut q, n, variant) {
                out.push(q);
            }
        }
    }
    out.sort_by_key(Program::size);
    out
}

/// The body of helper `which`, or of the main function after the helpers.
fn body_of(q: &mut Program, which: usize) -> &mut Vec<S> {
    match q.helpers.get_mut(which) {
        Some(h) => &mut h.body,
        None => &mut q.main.body,
    }
}

fn count_stmts(body: &[S]) -> usize {
    body.iter()
        .map(|s| 1 + children(s).iter().map(|b| count_stmts(b)).sum::<usize>())
        .sum()
}

pub fn children(s: &S) -> Vec<&Vec<S>> {
    match s {
        S::If { then, els, .. } => {
            let mut v = vec![then];
            if let Some(e) = els {
                v.push(e);
            }
            v
        }
        S::For { body, .. }
        | S::ForStep { body, .. }
        | S::WhileFloat { body, .. }
        | S::ForEach { body, .. }
        | S::While { body, .. }
        | S::Loop { body, .. } => vec![body],
        S::Match { arms, .. } => arms.iter().map(|(_, b)| b).collect(),
        S::FloatMatch { arms, .. } => arms.iter().map(|(_, b)| b).collect(),
        _ => Vec::new(),
    }
}

fn children_mut(s: &mut S) -> Vec<&mut Vec<S>> {
    match s {
        S::If { then, els, .. } => {
            let mut v = vec![then];
            if let Some(e) = els {
                v.push(e);
            }
            v
        }
        S::For { body, .. }
        | S::ForStep { body, .. }
        | S::WhileFloat { body, .. }
        | S::ForEach { body, .. }
        | S::While { body, .. }
        | S::Loop { body, .. } => vec![body],
        S::Match { arms, .. } => arms.iter_mut().map(|(_, b)| b).collect(),
        S::FloatMatch { arms, .. } => arms.iter_mut().map(|(_, b)| b).collect(),
        _ => Vec::new(),
    }
}

/// Edits the `n`-th statement (pre-order): variant 0 removes it, 1 replaces an `if`
/// or `match` by its first block (loops keep theirs: an exit would lose its
/// loop), 2 drops an `else`.
fn edit_stmt(body: &mut Vec<S>, n: &mut usize, variant: usize) -> bool {
    let mut k = 0;
    while k < body.len() {
        if *n == 0 {
            match variant {
                0 => {
                    body.remove(k);
                    return true;
                }
                1 => {
                    let inner: Vec<S> = match &body[k] {
                        S::If { then, .. } => then.clone(),
                        S::Match { arms, .. } => arms[0].1.clone(),
                        _ => return false,
                    };
                    body.splice(k..=k, inner);
                    return true;
                }
                _ => {
                    if let S::If {
                        els: els @ Some(_), ..
                    } = &mut body[k]
                    {
                        *els = None;
                        return true;
                    }
                    return false;
                }
            }
        }
        *n -= 1;
        for child in children_mut(&mut body[k]) {
            let before = *n;
            let total = count_stmts(child);
            if *n < total {
                return edit_stmt(child, n, variant);
            }
            *n = before - total;
        }
        k += 1;
    }
    false
}

fn count_exprs(p: &Program) -> usize {
    let mut n = 0;
    let mut q = p.clone();
    visit_program(&mut q, &mut |_| n += 1);
    n
}

/// Replaces the `n`-th expression by a part of it (variants 0 to 2) or a literal (3).
fn edit_expr(p: &mut Program, n: usize, variant: usize) -> bool {
    let mut k = 0;
    let mut changed = false;
    visit_program(p, &mut |e| {
        if k == n {
            let parts = parts(e);
            let replacement = match variant {
                3 => (!matches!(e, E::Lit(_))).then_some(E::Lit(1.0)),
                v => parts.get(v).cloned(),
            };
            if let Some(r) = replacement {
                *e = r;
                changed = true;
            }
        }
        k += 1;
    });
    changed
}

fn parts(e: &E) -> Vec<E> {
    match e {
        E::Bin(_, a, b) | E::M2(_, a, b) => vec![(**a).clone(), (**b).clone()],
        E::Neg(a)
        | E::M1(_, a)
        | E::Path1(_, a)
        | E::Powi(a, _)
        | E::Clamp(a, ..)
        | E::Act(_, a)
        | E::CallClosure(_, a)
        | E::PowiVar(a, _)
        | E::CustomRule(a)
        | E::Cast(a) => vec![(**a).clone()],
        E::MulAdd(a, b, c) => vec![(**a).clone(), (**b).clone(), (**c).clone()],
        E::Branch(_, a, b) => vec![(**a).clone(), (**b).clone()],
        E::Block(_, a, _) => vec![(**a).clone()],
        E::Call(_, args) => args
            .iter()
            .filter_map(|a| match a {
                Arg::E(e) => Some(e.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Calls `f` on every expression of the program, outermost first (the
/// children of an expression after `f` has seen it).
fn visit_program(p: &mut Program, f: &mut dyn FnMut(&mut E)) {
    for h in &mut p.helpers {
        visit_func(h, f);
    }
    visit_func(&mut p.main, f);
}

fn visit_func(func: &mut Func, f: &mut dyn FnMut(&mut E)) {
    visit_stmts(&mut func.body, f);
    match &mut func.ret {
        Ret::Scalar(e) => visit_expr(e, f),
        Ret::Pair(a, b) | Ret::Array(a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        Ret::Struct(a, b) => {
            visit_expr(a, f);
            if let Some(b) = b {
                visit_expr(b, f);
            }
        }
        Ret::Unit => {}
    }
}

fn visit_stmts(body: &mut [S], f: &mut dyn FnMut(&mut E)) {
    for s in body {
        match s {
            S::Let { value, .. }
            | S::Assign { value, .. }
            | S::AssignDeref { value, .. }
            | S::Write { value, .. }
            | S::ChunkWrite { value, .. }
            | S::Return(value)
            | S::Discard(value)
            | S::IterMut { value, .. }
            | S::PushBuf { value, .. } => visit_expr(value, f),
            S::Buf {
                init: BufInit::Elems(es),
                ..
            } => es.iter_mut().for_each(|e| visit_expr(e, f)),
            S::Buf {
                init: BufInit::Chosen { cond, then, els },
                ..
            } => {
                visit_cond(cond, f);
                then.iter_mut().chain(els).for_each(|e| visit_expr(e, f));
            }
            S::If { cond, .. } => visit_cond(cond, f),
            S::CallStmt(_, args) | S::LetPair { args, .. } => visit_args(args, f),
            S::LetTuple { values, .. }
            | S::LetTupleLocal { values, .. }
            | S::AssignTuple { values, .. } => values.iter_mut().for_each(|e| visit_expr(e, f)),
            S::SinCos { value, .. } => visit_expr(value, f),
            S::WhileFloat { cond, .. } => visit_cond(cond, f),
            S::Closure { body, .. } => visit_expr(body, f),
            S::LetStruct { init, .. } => match init {
                StructInit::Lit(a, b) => {
                    visit_expr(a, f);
                    visit_expr(b, f);
                }
                StructInit::Call { k, .. } => visit_expr(k, f),
                StructInit::Copy(_) => {}
            },
            S::StepStruct { k, .. } => visit_expr(k, f),
            _ => {}
        }
        for child in children_mut(s) {
            visit_stmts(child, f);
        }
    }
}

fn visit_args(args: &mut [Arg], f: &mut dyn FnMut(&mut E)) {
    for a in args {
        if let Arg::E(e) = a {
            visit_expr(e, f);
        }
    }
}

fn visit_cond(c: &mut C, f: &mut dyn FnMut(&mut E)) {
    match c {
        C::Cmp(_, a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        C::And(a, b) | C::Or(a, b) => {
            visit_cond(a, f);
            visit_cond(b, f);
        }
        C::Not(a) => visit_cond(a, f),
        C::Test(_, e) => visit_expr(e, f),
        C::ICmp(..) | C::ChainGt(..) => {}
    }
}

fn visit_expr(e: &mut E, f: &mut dyn FnMut(&mut E)) {
    f(e);
    match e {
        E::Bin(_, a, b) | E::M2(_, a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        E::Neg(a)
        | E::M1(_, a)
        | E::Path1(_, a)
        | E::Powi(a, _)
        | E::Clamp(a, ..)
        | E::Act(_, a)
        | E::CallClosure(_, a)
        | E::PowiVar(a, _)
        | E::CustomRule(a)
        | E::Cast(a) => visit_expr(a, f),
        E::MulAdd(a, b, c) => {
            visit_expr(a, f);
            visit_expr(b, f);
            visit_expr(c, f);
        }
        E::Branch(c, a, b) => {
            visit_cond(c, f);
            visit_expr(a, f);
            visit_expr(b, f);
        }
        E::Block(_, a, b) => {
            visit_expr(a, f);
            visit_expr(b, f);
        }
        E::Call(_, args) => visit_args(args, f),
        _ => {}
    }
}
