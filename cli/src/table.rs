//! The aligned tables the operator commands print.

/// `headings` and `rows` as text, one line each, every column padded to its
/// widest cell and two spaces apart; no line ends in spaces.
pub fn aligned<const N: usize>(headings: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headings.map(|heading| heading.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let headings = headings.map(str::to_owned);
    let mut text = String::new();
    for row in std::iter::once(&headings).chain(rows) {
        let padded: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        text.push_str(padded.join("  ").trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_on_the_widest_cell() {
        let text = aligned(
            ["A", "B", "C"],
            &[
                ["x".to_owned(), "long cell".to_owned(), "end".to_owned()],
                ["wide one".to_owned(), "b".to_owned(), "e".to_owned()],
            ],
        );
        assert_eq!(
            text,
            "A         B          C\nx         long cell  end\nwide one  b          e\n"
        );
    }
}
