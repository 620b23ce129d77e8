//! "Did you mean": the one guess at what a mistyped name was meant as, for the config
//! file's keys (`max_iteration = 3`) and the prompt's flags (`--max-iteration 3`) alike,
//! so the same typo gets the same suggestion wherever it is made.

/// The candidate `typed` was probably meant as: a small edit away (a letter missing,
/// swapped or doubled, `_` for `-`, another case, leading dashes), or a clear
/// abbreviation of a compound name (`max-iter`, `max_iter`). Ordinary words such as
/// `verbose` are not close to `verify`. The closest wins; `None` when none is close.
pub(crate) fn did_you_mean<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let typed = canonical(typed);
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let name = canonical(candidate);
            let distance = edit_distance(&typed, &name);
            let abbreviation =
                typed.contains('-') && typed.len() * 2 >= name.len() && name.starts_with(&typed);
            (distance <= (name.len() / 5).max(1) || abbreviation).then_some((distance, candidate))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// A name as compared: no leading dashes (nor the dash an editor made of two), lower
/// case, `_` as `-`.
fn canonical(name: &str) -> String {
    name.trim_start_matches(['-', '\u{2014}', '\u{2013}'])
        .to_lowercase()
        .replace('_', "-")
}

/// Edits (insert, delete, substitute, swap two neighbours) between `a` and `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![(0..=b.len()).collect::<Vec<usize>>()];
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (rows[i - 1][j] + 1)
                .min(row[j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(rows[i - 2][j - 2] + 1);
            }
        }
        rows.push(row);
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 4] = ["max_iterations", "max_duration", "verify", "no_progress"];

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("max-iterations", "max-iterations"), 0);
        assert_eq!(edit_distance("max-iteartions", "max-iterations"), 1);
        assert_eq!(edit_distance("verbose", "verify"), 4);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn a_typo_gets_the_same_suggestion_as_a_key_and_as_a_flag() {
        for typed in [
            "max_iteration",
            "--max-iteration",
            "--Max-Iterations",
            "max-iterations",
            "--max-iter",
            "max_iter",
            "\u{2014}max-iterations",
        ] {
            assert_eq!(
                did_you_mean(typed, NAMES),
                Some("max_iterations"),
                "{typed}"
            );
        }
        assert_eq!(did_you_mean("--verfy", NAMES), Some("verify"));
        assert_eq!(did_you_mean("noprogress", NAMES), Some("no_progress"));
        assert_eq!(
            did_you_mean("--max-iteration", ["--max-iterations", "--max-duration"]),
            Some("--max-iterations")
        );
    }

    #[test]
    fn ordinary_words_are_not_close() {
        for typed in [
            "--verbose",
            "colour",
            "--max",
            "--iterations",
            "--mixed-iterations",
        ] {
            assert_eq!(did_you_mean(typed, NAMES), None, "{typed}");
        }
    }
}
