//! What a session cost, for the agents that do not say it themselves (codex, gemini): list
//! prices per model, in US dollars per million tokens, as published on the providers' pricing
//! pages at [`PRICES_AS_OF`]. A model that is not in the table has an unknown cost; the report
//! then shows the tokens only, and a budget cannot be checked. Claude Code reports its own
//! cost, which is used as it is.
//!
//! Only the base tier is listed (prompts up to 200K tokens for Gemini, 272K for OpenAI); a
//! longer prompt is billed higher, so the figure is a lower bound then.

/// When the prices below were read from the providers' pricing pages.
pub const PRICES_AS_OF: &str = "2026-07-01";

/// The price of one model, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_input: f64,
    /// Output tokens, reasoning included.
    pub output: f64,
}

const fn price(input: f64, cached_input: f64, output: f64) -> Price {
    Price {
        input,
        cached_input,
        output,
    }
}

/// Model id and price. Where a provider publishes no cached-input price, the input price is
/// used (an upper bound).
const PRICES: &[(&str, Price)] = &[
    // OpenAI (platform.openai.com/pricing)
    ("gpt-5.5", price(5.00, 0.50, 30.00)),
    ("gpt-5.4", price(2.50, 0.25, 15.00)),
    ("gpt-5.4-mini", price(0.75, 0.075, 4.50)),
    ("gpt-5.4-nano", price(0.20, 0.02, 1.25)),
    // Google (ai.google.dev/gemini-api/docs/pricing)
    ("gemini-3.5-flash", price(1.50, 1.50, 9.00)),
    ("gemini-3.1-pro-preview", price(2.00, 2.00, 12.00)),
    ("gemini-3.1-flash-lite", price(0.25, 0.025, 1.50)),
    ("gemini-3.1-flash-lite-preview", price(0.25, 0.025, 1.50)),
    ("gemini-3-flash-preview", price(0.50, 0.05, 3.00)),
    ("gemini-2.5-pro", price(1.25, 1.25, 10.00)),
    ("gemini-2.5-flash", price(0.30, 0.30, 2.50)),
    ("gemini-2.5-flash-lite", price(0.10, 0.10, 0.40)),
];

/// The price of `model`, if the table has it (exact id, any case).
pub fn price_of(model: &str) -> Option<Price> {
    PRICES
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(model.trim()))
        .map(|(_, p)| *p)
}

/// Tokens one model used in a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens, cached ones included.
    pub input: u64,
    /// The part of `input` read from the cache.
    pub cached_input: u64,
    pub output: u64,
}

/// The cost of `usage` on `model`, or `None` when the model's price is not known.
pub fn cost_usd(model: &str, usage: Usage) -> Option<f64> {
    raw_cost(model, usage).map(round_cents_fraction)
}

fn raw_cost(model: &str, usage: Usage) -> Option<f64> {
    let p = price_of(model)?;
    let cached = usage.cached_input.min(usage.input);
    let fresh = usage.input - cached;
    Some(
        (fresh as f64 * p.input + cached as f64 * p.cached_input + usage.output as f64 * p.output)
            / 1_000_000.0,
    )
}

/// The total over several models; `None` when any model that used tokens has no known price.
pub fn total_cost_usd<'a>(usages: impl IntoIterator<Item = (&'a str, Usage)>) -> Option<f64> {
    let mut total = 0.0;
    for (model, usage) in usages {
        if usage == Usage::default() {
            continue;
        }
        total += raw_cost(model, usage)?;
    }
    Some(round_cents_fraction(total))
}

/// Four decimals, as Claude Code reports its cost.
fn round_cents_fraction(dollars: f64) -> f64 {
    (dollars * 10_000.0).round() / 10_000.0
}

/// The note for a session whose budget cannot be enforced by the agent.
pub fn budget_note(agent: &str, model: Option<&str>) -> String {
    let known = model.and_then(price_of).is_some();
    if known {
        format!(
            "{agent} has no budget limit, so the budget cannot be enforced; the cost is computed \
             after the session from the token counts and the price table of {PRICES_AS_OF}"
        )
    } else {
        format!(
            "{agent} has no budget limit and the price of {} is not known to oneshot, so the \
             budget cannot be enforced and the cost is not reported",
            model.unwrap_or("its default model")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_counts_cached_input_at_its_own_price() {
        let usage = Usage {
            input: 1_000_000,
            cached_input: 400_000,
            output: 100_000,
        };
        // 600K fresh at $5, 400K cached at $0.50, 100K out at $30.
        assert_eq!(cost_usd("gpt-5.5", usage), Some(3.0 + 0.2 + 3.0));
        assert_eq!(cost_usd("GPT-5.5", usage), cost_usd("gpt-5.5", usage));
        assert_eq!(cost_usd("gpt-6.1-sol", usage), None);
    }

    #[test]
    fn a_total_is_unknown_when_one_model_with_tokens_is() {
        let some = Usage {
            input: 1000,
            cached_input: 0,
            output: 100,
        };
        assert_eq!(
            total_cost_usd([("gemini-2.5-flash", some), ("unpriced", Usage::default())]),
            Some(0.0006)
        );
        assert_eq!(
            total_cost_usd([("gemini-2.5-flash", some), ("unpriced", some)]),
            None
        );
    }

    #[test]
    fn the_budget_note_says_why() {
        assert!(budget_note("codex", Some("gpt-5.5")).contains(PRICES_AS_OF));
        assert!(budget_note("codex", None).contains("its default model"));
        assert!(budget_note("gemini", Some("x")).contains("price of x is not known"));
    }
}
