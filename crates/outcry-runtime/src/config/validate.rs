//! What serde cannot check of a configuration: ranges, uniqueness, references between
//! fields, and the names Kafka and the brands allow.

use super::services::valid_mail_address;
use super::*;
use std::collections::BTreeSet;

impl Config {
    /// Checks what serde cannot: ranges, uniqueness, references between fields.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.kafka.brokers.trim().is_empty() {
            return Err(invalid("kafka.brokers", "must not be empty"));
        }
        if self.kafka.max_in_flight == 0 {
            return Err(invalid("kafka.max_in_flight", "must be at least 1"));
        }
        let t = &self.kafka.topics;
        let topics = [
            ("kafka.topics.mentions", &t.mentions),
            ("kafka.topics.scored", &t.scored),
            ("kafka.topics.escalations", &t.escalations),
            ("kafka.topics.dead_letters", &t.dead_letters),
            ("kafka.topics.deliveries", &t.deliveries),
            ("kafka.topics.router_state", &t.router_state),
        ];
        let mut seen = BTreeSet::new();
        for (field, name) in topics {
            if !valid_topic_name(name) {
                return Err(invalid(
                    field,
                    format!("{name:?} is not a valid kafka topic name"),
                ));
            }
            if !seen.insert(name.as_str()) {
                return Err(invalid(field, format!("topic {name:?} is used twice")));
            }
        }
        if self.shutdown.drain_timeout_secs == 0 {
            return Err(invalid("shutdown.drain_timeout_secs", "must be at least 1"));
        }
        let mut ids = BTreeSet::new();
        for (i, brand) in self.brands.iter().enumerate() {
            let at = format!("brands[{i}]");
            if !valid_brand_id(&brand.id) {
                return Err(invalid(
                    format!("{at}.id"),
                    format!(
                        "{:?} must be 1-64 of lowercase letters, digits, '-' and '_'",
                        brand.id
                    ),
                ));
            }
            if !ids.insert(brand.id.as_str()) {
                return Err(invalid(
                    format!("{at}.id"),
                    format!("brand {:?} is defined twice", brand.id),
                ));
            }
            if brand.team.trim().is_empty() {
                return Err(invalid(format!("{at}.team"), "must not be empty"));
            }
            for (j, rule) in brand.rules.iter().enumerate() {
                let at = format!("{at}.rules[{j}]");
                if rule.name.trim().is_empty() {
                    return Err(invalid(format!("{at}.name"), "must not be empty"));
                }
                check_priority(&format!("{at}.priority"), rule.priority)?;
                if let Some(p) = rule.min_complaint_probability {
                    if !(0.0..=1.0).contains(&p) {
                        return Err(invalid(
                            format!("{at}.min_complaint_probability"),
                            "must be within 0..=1",
                        ));
                    }
                }
                if let Some(c) = rule.max_compound {
                    if !(-1.0..=1.0).contains(&c) {
                        return Err(invalid(
                            format!("{at}.max_compound"),
                            "must be within -1..=1",
                        ));
                    }
                }
            }
            check_priority(&format!("{at}.spike.priority"), brand.spike.priority)?;
            brand
                .spike
                .detector
                .validate()
                .map_err(|reason| invalid(format!("{at}.spike.detector"), reason))?;
        }
        if self.ingestor.max_body_bytes < 1024 {
            return Err(invalid("ingestor.max_body_bytes", "must be at least 1024"));
        }
        if self.ingestor.max_concurrent_requests == 0 {
            return Err(invalid(
                "ingestor.max_concurrent_requests",
                "must be at least 1",
            ));
        }
        if self.ingestor.max_batch == 0 {
            return Err(invalid("ingestor.max_batch", "must be at least 1"));
        }
        if self.router.max_samples == 0 {
            return Err(invalid("router.max_samples", "must be at least 1"));
        }
        if self.router.state.checkpoint_records == 0 {
            return Err(invalid(
                "router.state.checkpoint_records",
                "must be at least 1",
            ));
        }
        if self.router.state.restore_timeout_secs == 0 {
            return Err(invalid(
                "router.state.restore_timeout_secs",
                "must be at least 1",
            ));
        }
        if self.notifier.max_attempts == 0 {
            return Err(invalid("notifier.max_attempts", "must be at least 1"));
        }
        for (i, hook) in self.notifier.webhooks.iter().enumerate() {
            if hook.format == WebhookFormat::Email {
                let tls = hook.url.starts_with("smtps://");
                if !tls && !hook.url.starts_with("smtp://") {
                    return Err(invalid(
                        format!("notifier.webhooks[{i}].url"),
                        format!(
                            "{:?} must be an smtp://host[:port] or smtps://host[:port] url for format email",
                            hook.url
                        ),
                    ));
                }
                if tls && hook.starttls {
                    return Err(invalid(
                        format!("notifier.webhooks[{i}].starttls"),
                        "an smtps:// relay is TLS from the start: starttls is for smtp:// only",
                    ));
                }
                if hook.username.is_empty() != hook.password.is_empty() {
                    return Err(invalid(
                        format!("notifier.webhooks[{i}].password"),
                        format!("SMTP AUTH needs both a username and a password (OUTCRY__NOTIFIER__WEBHOOKS__{i}__PASSWORD)"),
                    ));
                }
                if !hook.username.is_empty() && !tls && !hook.starttls {
                    return Err(invalid(
                        format!("notifier.webhooks[{i}].username"),
                        "SMTP AUTH would send the password in clear: use an smtps:// url or starttls: true",
                    ));
                }
                if !hook.ca_file.is_empty() && !tls && !hook.starttls {
                    return Err(invalid(
                        format!("notifier.webhooks[{i}].ca_file"),
                        "a CA file is for TLS: use an smtps:// url or starttls: true",
                    ));
                }
                if !valid_mail_address(&hook.from) {
                    return Err(invalid(
                        format!("notifier.webhooks[{i}].from"),
                        format!("{:?} must be a plain address, local@domain", hook.from),
                    ));
                }
                if hook.to.is_empty() {
                    return Err(invalid(
                        format!("notifier.webhooks[{i}].to"),
                        "an email webhook needs at least one recipient",
                    ));
                }
                if let Some(bad) = hook.to.iter().find(|a| !valid_mail_address(a)) {
                    return Err(invalid(
                        format!("notifier.webhooks[{i}].to"),
                        format!("{bad:?} must be a plain address, local@domain"),
                    ));
                }
            } else if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                return Err(invalid(
                    format!("notifier.webhooks[{i}].url"),
                    format!("{:?} must be an http:// or https:// url", hook.url),
                ));
            }
            if !valid_brand_id(&hook.name) {
                return Err(invalid(
                    format!("notifier.webhooks[{i}].name"),
                    "must be 1-64 of lowercase letters, digits, '-' and '_'",
                ));
            }
            if hook.format == WebhookFormat::Pagerduty && hook.routing_key.trim().is_empty() {
                return Err(invalid(
                    format!("notifier.webhooks[{i}].routing_key"),
                    format!("a pagerduty webhook needs its integration key (OUTCRY__NOTIFIER__WEBHOOKS__{i}__ROUTING_KEY)"),
                ));
            }
        }
        Ok(())
    }
}

fn check_priority(field: &str, priority: u8) -> Result<(), ConfigError> {
    if (1..=4).contains(&priority) {
        Ok(())
    } else {
        Err(invalid(field, format!("{priority} must be within 1..=4")))
    }
}

fn valid_brand_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}
