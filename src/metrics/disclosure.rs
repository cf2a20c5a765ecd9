//! Which hidden values a reader can work out exactly from published ones. Published counts
//! and sums obey linear relations (a partition adds up to `all`, a group and its rest add up
//! to `all`, a district row is the sum of its schools' rows); each relation is an equation
//! over its hidden members (suppressed rows and unpublished parts such as `rest`), with the
//! published members as constants. A hidden value is recoverable exactly when some linear
//! combination of the equations leaves it alone: when its unit vector lies in the row space of
//! the system. That is decided here in exact rational arithmetic (no rounding can hide or
//! invent a leak), one connected set of unknowns at a time, by incremental Gauss–Jordan
//! elimination that remembers which equations each reduced row is made of, so a caller can say
//! how a value was recovered and which published rows to hide to break it.
//!
//! Both complementary suppression (`suppression`) and `equity-gap audit` use it.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Zero};
use std::collections::{BTreeMap, BTreeSet};

/// One equation: Σ coefficient · unknown = (something published), by unknown index.
pub type Equation = Vec<(usize, i64)>;

/// How an unknown is recovered: the equations (by index) and the rational multiple of each
/// whose sum leaves that unknown alone with coefficient 1.
pub type Combination = Vec<(usize, BigRational)>;

/// A sparse row: coefficients by unknown, and the equations it is a combination of.
#[derive(Clone)]
struct Row {
    coef: BTreeMap<usize, BigRational>,
    from: BTreeMap<usize, BigRational>,
}

/// `into -= factor · x`, dropping entries that become zero; `changed(k, held)` hears of each
/// key that `into` gains (`held` true) or loses (false).
fn axpy(
    into: &mut BTreeMap<usize, BigRational>,
    factor: &BigRational,
    x: &BTreeMap<usize, BigRational>,
    mut changed: impl FnMut(usize, bool),
) {
    for (k, v) in x {
        let mut new = false;
        let entry = into.entry(*k).or_insert_with(|| {
            new = true;
            BigRational::zero()
        });
        *entry -= factor * v;
        if entry.is_zero() {
            into.remove(k);
            if !new {
                changed(*k, false);
            }
        } else if new {
            changed(*k, true);
        }
    }
}

/// For each of `n` unknowns, the combination of `equations` that recovers it, or `None` when
/// no combination does.
pub fn recoverable(n: usize, equations: &[Equation]) -> Vec<Option<Combination>> {
    // Unknowns that share an equation are solved together; the rest never interact.
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for eq in equations {
        if let Some(&(first, _)) = eq.first() {
            let a = find(&mut parent, first);
            for &(u, _) in &eq[1..] {
                let b = find(&mut parent, u);
                if a != b {
                    parent[b] = a;
                }
            }
        }
    }
    let mut by_component: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, eq) in equations.iter().enumerate() {
        if let Some(&(first, _)) = eq.first() {
            by_component
                .entry(find(&mut parent, first))
                .or_default()
                .push(i);
        }
    }
    let mut out: Vec<Option<Combination>> = vec![None; n];
    for eqs in by_component.values() {
        solve_component(equations, eqs, &mut out);
    }
    out
}

fn solve_component(equations: &[Equation], eqs: &[usize], out: &mut [Option<Combination>]) {
    // Pivot rows, fully reduced against each other; `pivot_of[u]` is the row whose pivot is u.
    let mut rows: Vec<Row> = Vec::new();
    let mut pivot_of: BTreeMap<usize, usize> = BTreeMap::new();
    // The rows whose coefficients hold each unknown, so that clearing a new pivot's column
    // visits only them rather than every row (a district's relations make components of
    // thousands of rows).
    let mut holders: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for &e in eqs {
        let mut row = Row {
            coef: BTreeMap::new(),
            from: BTreeMap::from([(e, BigRational::one())]),
        };
        for &(u, c) in &equations[e] {
            let entry = row.coef.entry(u).or_insert_with(BigRational::zero);
            *entry += BigRational::from_integer(BigInt::from(c));
            if entry.is_zero() {
                row.coef.remove(&u);
            }
        }
        // Reduce by the existing pivots (they hold no other pivot column, so one pass does).
        let pivots: Vec<(usize, BigRational)> = row
            .coef
            .iter()
            .filter(|(u, _)| pivot_of.contains_key(u))
            .map(|(u, c)| (*u, c.clone()))
            .collect();
        for (u, c) in pivots {
            let p = &rows[pivot_of[&u]];
            axpy(&mut row.coef, &c, &p.coef, |_, _| {});
            axpy(&mut row.from, &c, &p.from, |_, _| {});
        }
        // The sparsest choice of pivot keeps fill-in low: the first column is as good as any
        // for these 0/±1 systems.
        let Some((&pivot, lead)) = row.coef.iter().next() else {
            continue;
        };
        let inv = lead.recip();
        for v in row.coef.values_mut().chain(row.from.values_mut()) {
            *v = &*v * &inv;
        }
        // Clear the new pivot's column from every other row.
        let index = rows.len();
        for o in holders.remove(&pivot).unwrap_or_default() {
            let other = &mut rows[o];
            let c = other.coef[&pivot].clone();
            axpy(&mut other.coef, &c, &row.coef, |k, held| {
                if k == pivot {
                    return;
                }
                let rows_of_k = holders.entry(k).or_default();
                if held {
                    rows_of_k.insert(o);
                } else {
                    rows_of_k.remove(&o);
                }
            });
            axpy(&mut other.from, &c, &row.from, |_, _| {});
        }
        for &k in row.coef.keys() {
            holders.entry(k).or_default().insert(index);
        }
        pivot_of.insert(pivot, index);
        rows.push(row);
    }
    for (u, r) in &pivot_of {
        let row = &rows[*r];
        if row.coef.len() == 1 {
            out[*u] = Some(row.from.iter().map(|(e, c)| (*e, c.clone())).collect());
        }
    }
}

/// A rational as a float, for reporting recovered values.
pub fn to_f64(r: &BigRational) -> f64 {
    let to = |b: &BigInt| b.to_string().parse::<f64>().unwrap_or(f64::NAN);
    to(r.numer()) / to(r.denom())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(c: &Option<Combination>) -> Option<Vec<(usize, f64)>> {
        c.as_ref()
            .map(|c| c.iter().map(|(e, r)| (*e, to_f64(r))).collect())
    }

    #[test]
    fn one_unknown_alone_is_recovered() {
        // x0 = published; x1 + x2 = published.
        let eqs = vec![vec![(0, 1)], vec![(1, 1), (2, 1)]];
        let r = recoverable(3, &eqs);
        assert_eq!(ids(&r[0]), Some(vec![(0, 1.0)]));
        assert!(r[1].is_none() && r[2].is_none());
    }

    #[test]
    fn a_cycle_of_relations_pins_down_what_each_alone_hides() {
        // School A: x0 + x1 = a; school B: x2 + x3 = b; district of group 1: x0 + x2 = d1;
        // district of group 2: x1 + x3 = d2. Four equations of rank 3: nothing is pinned.
        let eqs = vec![
            vec![(0, 1), (1, 1)],
            vec![(2, 1), (3, 1)],
            vec![(0, 1), (2, 1)],
            vec![(1, 1), (3, 1)],
        ];
        assert!(recoverable(4, &eqs).iter().all(Option::is_none));
        // Add x2 = b' (group 1 at school B revealed elsewhere): then x3, x0 and x1 follow.
        let mut more = eqs.clone();
        more.push(vec![(2, 1)]);
        let r = recoverable(4, &more);
        assert!(r.iter().all(Option::is_some));
        // Whatever combination was found, it must add up to x1 alone.
        let how = r[1].as_ref().unwrap();
        let mut sum = [0.0; 4];
        for (e, c) in how {
            for &(u, k) in &more[*e] {
                sum[u] += to_f64(c) * k as f64;
            }
        }
        assert_eq!(sum, [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn fractions_are_exact() {
        // 2x0 + x1 = a; x1 = b  → x0 = (a − b)/2.
        let eqs = vec![vec![(0, 2), (1, 1)], vec![(1, 1)]];
        let r = recoverable(2, &eqs);
        assert_eq!(ids(&r[0]), Some(vec![(0, 0.5), (1, -0.5)]));
    }
}
