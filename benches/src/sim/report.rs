//! The simulator's table: one row per figure with its goal or anchor beside
//! it, printed as text and written as JSON (and text) under `target/bench/`.

use serde::Serialize;
use std::path::Path;

#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub figure: String,
    /// As printed.
    pub value: String,
    /// The number behind `value` in `unit`, for machines.
    pub number: Option<f64>,
    pub unit: String,
    /// Goal or anchor, as printed.
    pub goal: String,
    /// Whether a goal is met; `None` when the row only reports.
    pub met: Option<bool>,
}

#[derive(Default, Serialize)]
pub struct Table {
    pub title: String,
    pub parameters: Vec<(String, String)>,
    pub rows: Vec<Row>,
}

impl Table {
    /// A row that only reports.
    pub fn row(
        &mut self,
        scenario: &str,
        figure: &str,
        value: String,
        number: Option<f64>,
        unit: &str,
    ) {
        self.goal(scenario, figure, value, number, unit, "", None);
    }

    /// A row with a goal: `met` says whether the figure reaches it.
    #[allow(clippy::too_many_arguments)]
    pub fn goal(
        &mut self,
        scenario: &str,
        figure: &str,
        value: String,
        number: Option<f64>,
        unit: &str,
        goal: &str,
        met: Option<bool>,
    ) {
        self.rows.push(Row {
            scenario: scenario.into(),
            figure: figure.into(),
            value,
            number,
            unit: unit.into(),
            goal: goal.into(),
            met,
        });
    }

    pub fn text(&self) -> String {
        let mut out = format!("{}\n", self.title);
        for (k, v) in &self.parameters {
            out += &format!("  {k}: {v}\n");
        }
        out += "\n| scenario | figure | value | goal / anchor | |\n|---|---|---|---|---|\n";
        for r in &self.rows {
            let verdict = match r.met {
                Some(true) => "met",
                Some(false) => "NOT met",
                None => "",
            };
            out += &format!(
                "| {} | {} | {} | {} | {} |\n",
                r.scenario, r.figure, r.value, r.goal, verdict
            );
        }
        out
    }

    /// Writes `<dir>/<stem>.json` and `<dir>/<stem>.txt`.
    pub fn write(&self, dir: &Path, stem: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join(format!("{stem}.json")), json)?;
        std::fs::write(dir.join(format!("{stem}.txt")), self.text())
    }
}

pub fn secs(d: std::time::Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

pub fn mib(kib: u64) -> String {
    if kib >= 1024 * 1024 {
        format!("{:.2} GB", kib as f64 / 1024.0 / 1024.0)
    } else {
        format!("{:.0} MB", kib as f64 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_carry_every_row() {
        let mut t = Table {
            title: "t".into(),
            ..Default::default()
        };
        t.goal(
            "a",
            "pods/s",
            "900".into(),
            Some(900.0),
            "1/s",
            "≥ 680",
            Some(true),
        );
        t.row("b", "rss", "1 GB".into(), None, "");
        let text = t.text();
        assert!(text.contains("| a | pods/s | 900 | ≥ 680 | met |"));
        assert!(text.contains("| b | rss | 1 GB |  |  |"));
        let dir = tempfile::tempdir().unwrap();
        t.write(dir.path(), "sim").unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("sim.json")).unwrap()).unwrap();
        assert_eq!(json["rows"][0]["met"], true);
        assert_eq!(json["rows"][1]["number"], serde_json::Value::Null);
    }
}
