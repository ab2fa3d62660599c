//! Scale-in victim choice: a named strategy behind one call, fed one input
//! struct, so the live loop and the simulator pick the same agents.

use std::str::FromStr;

use super::ContainerId;

/// How scale-in victims are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selector {
    /// The agents holding the least work go first: idle ones, then the
    /// fewest tasks in flight. Among equals: one of an older template (it
    /// would be rolled anyway), then one not working yet, then the newest.
    #[default]
    LeastBusy,
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "least_busy" => Ok(Selector::LeastBusy),
            other => Err(format!(
                "unknown victim selector \"{other}\"; known: least_busy"
            )),
        }
    }
}

/// One agent that may be removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The container.
    pub id: ContainerId,
    /// Its name (the agent id).
    pub name: String,
    /// Tasks it holds by a fresh report; `None` when unknown.
    pub held: Option<u64>,
    /// Whether it runs the pool's current template.
    pub current_template: bool,
    /// Whether it is working already (not still starting).
    pub working: bool,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// The input of one victim choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Who may go.
    pub candidates: Vec<Candidate>,
    /// Tasks assumed held by an agent whose load is unknown: the pool's
    /// average (ack pending over the agents counted).
    pub average_in_flight: f64,
    /// How many must go.
    pub n: usize,
    /// Working agents that must stay: no choice takes the count of working
    /// candidates below it. An agent still starting that cannot be stopped
    /// yet counts toward the pool but does no work, so draining a working
    /// agent in its place would leave the pool short until it lands.
    pub keep_working: usize,
}

/// Up to `choice.n` victims, in the order they should go.
pub fn select(selector: Selector, choice: &Choice) -> Vec<&Candidate> {
    match selector {
        Selector::LeastBusy => least_busy(choice),
    }
}

fn least_busy(choice: &Choice) -> Vec<&Candidate> {
    let load = |c: &Candidate| c.held.map_or(choice.average_in_flight, |h| h as f64);
    let mut v: Vec<&Candidate> = choice.candidates.iter().collect();
    v.sort_by(|a, b| {
        load(a)
            .total_cmp(&load(b))
            .then(a.current_template.cmp(&b.current_template))
            .then(a.working.cmp(&b.working))
            .then(b.created.cmp(&a.created))
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut working_left = v.iter().filter(|c| c.working).count();
    v.retain(|c| {
        if !c.working {
            return true;
        }
        if working_left <= choice.keep_working {
            return false;
        }
        working_left -= 1;
        true
    });
    v.truncate(choice.n);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, held: Option<u64>, current: bool, working: bool, created: i64) -> Candidate {
        Candidate {
            id: ContainerId::from(format!("id-{name}")),
            name: name.into(),
            held,
            current_template: current,
            working,
            created,
        }
    }

    fn pick(cands: Vec<Candidate>, average: f64, n: usize) -> Vec<String> {
        pick_keeping(cands, average, n, 0)
    }

    fn pick_keeping(cands: Vec<Candidate>, average: f64, n: usize, keep: usize) -> Vec<String> {
        let choice = Choice {
            candidates: cands,
            average_in_flight: average,
            n,
            keep_working: keep,
        };
        select(Selector::LeastBusy, &choice)
            .into_iter()
            .map(|c| c.name.clone())
            .collect()
    }

    #[test]
    fn least_busy_first_then_old_template_then_not_working_then_newest() {
        let list = vec![
            c("busy", Some(3), true, true, 1),
            c("idle-old", Some(0), true, true, 2),
            c("idle-new", Some(0), true, true, 3),
            c("idle-stale-template", Some(0), false, true, 1),
            c("starting", Some(0), true, false, 1),
            c("unknown", None, true, true, 9),
        ];
        assert_eq!(
            pick(list, 2.0, 6),
            [
                "idle-stale-template",
                "starting",
                "idle-new",
                "idle-old",
                "unknown",
                "busy"
            ]
        );
    }

    #[test]
    fn working_agents_are_kept_to_the_floor_whatever_their_load() {
        let list = || {
            vec![
                c("busy", Some(3), true, true, 1),
                c("idle-a", Some(0), true, true, 2),
                c("idle-b", Some(0), true, true, 3),
                c("starting", Some(0), true, false, 1),
            ]
        };
        // Two of three working agents must stay: one idle one goes, with
        // the agent not working yet.
        assert_eq!(pick_keeping(list(), 0.0, 4, 2), ["starting", "idle-b"]);
        // A floor at or over the working count keeps every working agent.
        assert_eq!(pick_keeping(list(), 0.0, 4, 3), ["starting"]);
        assert_eq!(pick_keeping(list(), 0.0, 4, 9), ["starting"]);
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!("least_busy".parse(), Ok(Selector::LeastBusy));
        assert!(
            "random"
                .parse::<Selector>()
                .unwrap_err()
                .contains("least_busy")
        );
    }
}
