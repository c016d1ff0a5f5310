//! How numbers read wherever a person sees them: money, token counts and
//! per-token prices. One rule each, so `/status`, `codex-litellm status`,
//! the telemetry report, the budget stop, the `models` table and the model
//! picker never show the same figure two ways.

/// Dollars with four decimals, six below a cent, so a session of cheap
/// requests does not read as free and sums of them line up in a column:
/// `$0.0123`, `$0.000420`, `$12.3450`, `$0.0000`.
pub fn money(usd: f64) -> String {
    if usd != 0.0 && usd.abs() < 0.01 {
        format!("${usd:.6}")
    } else {
        format!("${usd:.4}")
    }
}

/// `128000` → `128,000`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A token figure the proxy may not report: [`count`], or `-` when unknown.
pub fn tokens(tokens: Option<u64>) -> String {
    tokens.map_or_else(|| "-".to_string(), count)
}

/// USD per token → USD per million tokens with two to four decimals
/// (`0.000001` → `1.00`, `7.5e-8` → `0.075`), or `-` when unknown. Per
/// million because per-token prices are unreadable (0.000002); without the
/// `$` so that a table can name the unit once in its header.
pub fn price_per_million(per_token: Option<f64>) -> String {
    let Some(per_token) = per_token else {
        return "-".to_string();
    };
    let text = format!("{:.4}", per_token * 1_000_000.0);
    let trimmed = text.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((_, decimals)) if decimals.len() >= 2 => trimmed.to_string(),
        _ => format!("{:.2}", per_token * 1_000_000.0),
    }
}

/// A model's two prices as one phrase, the same in `codex-litellm status`
/// and the model picker: `$0.15 in / $0.60 out per 1M tokens`, `-` for a
/// price the proxy does not know.
pub fn prices(input_per_token: Option<f64>, output_per_token: Option<f64>) -> String {
    let one = |per_token: Option<f64>| match per_token {
        Some(_) => format!("${}", price_per_million(per_token)),
        None => "-".to_string(),
    };
    format!(
        "{} in / {} out per 1M tokens",
        one(input_per_token),
        one(output_per_token)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn money_has_four_decimals_and_six_below_a_cent() {
        assert_eq!(money(0.0), "$0.0000");
        assert_eq!(money(0.0123), "$0.0123");
        assert_eq!(money(0.00042), "$0.000420");
        assert_eq!(money(0.000001), "$0.000001");
        assert_eq!(money(0.0000123), "$0.000012");
        assert_eq!(money(12.345), "$12.3450");
    }

    #[test]
    fn number_formats() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(tokens(None), "-");
        assert_eq!(tokens(Some(999)), "999");
        assert_eq!(tokens(Some(32000)), "32,000");
        assert_eq!(tokens(Some(1_048_576)), "1,048,576");
        assert_eq!(price_per_million(None), "-");
        assert_eq!(price_per_million(Some(0.000001)), "1.00");
        assert_eq!(price_per_million(Some(0.000002)), "2.00");
        assert_eq!(price_per_million(Some(7.5e-8)), "0.075");
        assert_eq!(price_per_million(Some(2.5e-6)), "2.50");
        assert_eq!(price_per_million(Some(0.0)), "0.00");
        assert_eq!(
            prices(Some(1.5e-7), Some(6e-7)),
            "$0.15 in / $0.60 out per 1M tokens"
        );
        assert_eq!(prices(None, Some(2e-6)), "- in / $2.00 out per 1M tokens");
    }
}
