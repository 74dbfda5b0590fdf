//! What the demo did: one row per step, printed as it happens and as a summary table.

use std::fmt;

/// How a step ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The step landed where it should (including expected refusals, such as a declined shopper).
    Landed,
    /// The step did not land where it should; the text says what happened instead.
    Failed(String),
    /// The step could not run here (e.g. the shopper's step against the playground needs a
    /// browser); the text says why.
    Skipped(String),
}

/// One step of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    /// The scenario (`1 one-time`, …).
    pub scenario: String,
    /// The step (`create session`, `capture`, …).
    pub step: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The payment's stage after the step (`ordered`), or the order's status.
    pub stage: String,
    /// Klarna's id involved (session, order), if any.
    pub klarna_id: String,
    /// The amount involved, as money (`1197.00 SEK`).
    pub amount: String,
}

/// Every step of a demo run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// The steps, in order.
    pub steps: Vec<StepReport>,
}

impl DemoReport {
    /// Whether every step landed where it should: no step failed and at least one ran.
    /// (Skipped steps, which only happen against the playground, do not count as failures.)
    #[must_use]
    pub fn all_landed(&self) -> bool {
        !self.steps.is_empty()
            && self
                .steps
                .iter()
                .all(|s| !matches!(s.outcome, Outcome::Failed(_)))
    }

    /// Steps that landed.
    #[must_use]
    pub fn landed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Landed))
    }

    /// Steps that failed.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// Steps that were skipped.
    #[must_use]
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped(_)))
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.steps.iter().filter(|s| f(&s.outcome)).count()
    }

    /// Whether the scenario with this prefix (`"1"`, `"2"`, …) has a step and every one of its
    /// steps landed.
    #[must_use]
    pub fn scenario_landed(&self, prefix: &str) -> bool {
        let mut steps = self
            .steps
            .iter()
            .filter(|s| s.scenario.starts_with(prefix))
            .peekable();
        steps.peek().is_some() && steps.all(|s| s.outcome == Outcome::Landed)
    }
}

fn width(rows: &[[String; 6]], col: usize) -> usize {
    rows.iter()
        .filter_map(|r| r.get(col))
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0)
}

impl fmt::Display for DemoReport {
    /// The summary table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows: Vec<[String; 6]> = vec![[
            "scenario".into(),
            "step".into(),
            "result".into(),
            "stage".into(),
            "Klarna id".into(),
            "amount".into(),
        ]];
        for s in &self.steps {
            let result = match &s.outcome {
                Outcome::Landed => "ok".to_owned(),
                Outcome::Failed(_) => "FAILED".to_owned(),
                Outcome::Skipped(_) => "skipped".to_owned(),
            };
            rows.push([
                s.scenario.clone(),
                s.step.clone(),
                result,
                s.stage.clone(),
                s.klarna_id.clone(),
                s.amount.clone(),
            ]);
        }
        let widths: Vec<usize> = (0..6).map(|c| width(&rows, c)).collect();
        for (i, row) in rows.iter().enumerate() {
            let mut line = String::new();
            for (cell, w) in row.iter().zip(&widths) {
                line.push_str(&format!("{cell:<w$}  "));
            }
            writeln!(f, "{}", line.trim_end())?;
            if i == 0 {
                let total: usize = widths.iter().map(|w| w + 2).sum();
                writeln!(f, "{}", "-".repeat(total.saturating_sub(2)))?;
            }
        }
        write!(
            f,
            "{} landed, {} failed, {} skipped",
            self.landed(),
            self.failed(),
            self.skipped()
        )
    }
}
