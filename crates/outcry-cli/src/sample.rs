//! The bundled sample stream: a week of mentions of three brands with a daily rhythm,
//! a realistic mix of praise, questions, neutral chatter and complaints (some with legal,
//! safety, churn, billing, outage and abuse signals), and one viral complaint spike near the
//! end. Deterministic for a seed, so the demo and the tests see the same stream.

use serde_json::{json, Value};

/// A small, fast, seedable generator (splitmix64); good enough for sample data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Poisson-distributed count with mean `lambda` (Knuth; lambda here stays small).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = 1.0;
        loop {
            p *= self.unit();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
}

/// A brand of the sample stream.
#[derive(Debug, Clone, Copy)]
pub struct SampleBrand {
    pub id: &'static str,
    pub handle: &'static str,
    pub product: &'static str,
    pub staff: &'static str,
    /// mean mentions per 5 minutes at the daily peak
    pub peak_rate: f64,
}

pub const BRANDS: [SampleBrand; 3] = [
    SampleBrand {
        id: "acme-air",
        handle: "@acmeair",
        product: "flight",
        staff: "gate agent",
        peak_rate: 9.0,
    },
    SampleBrand {
        id: "nimbus-mobile",
        handle: "@nimbusmobile",
        product: "phone plan",
        staff: "support rep",
        peak_rate: 7.0,
    },
    SampleBrand {
        id: "bluebean",
        handle: "@bluebeancoffee",
        product: "latte",
        staff: "barista",
        peak_rate: 5.0,
    },
];

const PRAISE: &[&str] = &[
    "Loving my new {product} from {handle}, great job!",
    "Shout out to the {staff} at {handle} who made my day :)",
    "{handle} you guys are awesome, thank you so much!!",
    "Best {product} I've had in ages. Thanks {handle}",
    "Really impressed with {handle} today, smooth and friendly 👍",
    "{handle} nailed it again. Happy customer here",
];

const QUESTIONS: &[&str] = &[
    "{handle} do you have any deals on a {product} this weekend?",
    "Hey {handle}, what time do you open on Sundays?",
    "{handle} is there a student discount on the {product}?",
    "Can I change my {product} online {handle} or do I need to call?",
    "{handle} how do I update my account email?",
];

const NEUTRAL: &[&str] = &[
    "Heading out with my {product} from {handle}",
    "Saw an ad for {handle} on the train this morning",
    "{handle} announced a new {product} lineup today",
    "Reading about {handle} quarterly results",
    "My friend works at {handle} now",
];

const COMPLAINTS: &[&str] = &[
    "{handle} my {product} was a total disaster today. Not happy.",
    "Worst experience ever with {handle}. The {product} was awful and nobody cares",
    "{handle} still waiting for a reply, this is terrible service",
    "Really disappointed with {handle}, the {product} is broken again",
    "{handle} why is it so hard to get any help? So frustrating",
    "Ugh {handle} the app keeps crashing and I can't manage my {product}",
];

const SIGNAL_COMPLAINTS: &[&str] = &[
    "{handle} I'm done. Cancelling my {product} and switching to a competitor",
    "{handle} third time I'm asking: where is my refund? You charged me twice!",
    "{handle} this is unacceptable, I'm talking to my lawyer about this {product}",
    "{handle} your {product} caught fire this morning, this is dangerous!",
    "{handle} is your service down? Nothing works, outage again?",
    "{handle} the {staff} was a complete idiot, fire that moron",
    "{handle} I was overcharged on my bill again, I want my money back",
];

const SPIKE: &[&str] = &[
    "{handle} total outage AGAIN?! No service all morning, this is a disaster",
    "Is {handle} down for everyone? My {product} has been dead for an hour. Terrible",
    "{handle} worst outage ever. I'm cancelling and switching today",
    "Still no signal {handle}. Nobody answers support. Absolutely useless",
    "{handle} you broke everything and won't say anything. Furious!!",
    "{handle} the outage is ruining my day. Refund this month now",
];

fn fill(template: &str, brand: &SampleBrand) -> String {
    template
        .replace("{handle}", brand.handle)
        .replace("{product}", brand.product)
        .replace("{staff}", brand.staff)
}

/// The kind of text a sample mention carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Praise,
    Question,
    Neutral,
    Complaint,
    SignalComplaint,
    Spike,
}

/// One generated mention, as the JSON the ingestor accepts.
#[derive(Debug, Clone)]
pub struct SampleMention {
    pub brand: &'static str,
    pub kind: Kind,
    pub event_ms: i64,
    pub json: Value,
}

/// Options of the generator.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub seed: u64,
    /// the stream covers `[end_ms - days, end_ms)`
    pub end_ms: i64,
    pub days: u32,
    /// the spike starts this long before the end, on the second brand
    pub spike_before_end_ms: i64,
    pub spike_buckets: u32,
    /// mean spike mentions per 5 minutes
    pub spike_rate: f64,
}

impl SampleOptions {
    pub fn new(seed: u64, end_ms: i64) -> SampleOptions {
        SampleOptions {
            seed,
            end_ms,
            // a week, so that the spike detectors have seen every weekday before the spike: on
            // a weekday they meet for the first time, its first buckets set that weekday's
            // level, and with three days a spike just after midnight UTC went unreported
            days: 7,
            spike_before_end_ms: 3 * 3_600_000,
            spike_buckets: 8,
            spike_rate: 90.0,
        }
    }
}

const BUCKET_MS: i64 = 300_000;

fn followers(rng: &mut Rng) -> u64 {
    // heavy-tailed: most accounts are small, a few are influential
    let u = rng.unit();
    (10f64.powf(1.0 + 4.6 * u.powi(3))) as u64
}

/// Generates the stream, ordered by event time.
pub fn generate(opts: &SampleOptions) -> Vec<SampleMention> {
    let mut rng = Rng::new(opts.seed);
    let start = (opts.end_ms - i64::from(opts.days) * 86_400_000).div_euclid(BUCKET_MS) * BUCKET_MS;
    let spike_start = (opts.end_ms - opts.spike_before_end_ms).div_euclid(BUCKET_MS) * BUCKET_MS;
    let spike_end = spike_start + i64::from(opts.spike_buckets) * BUCKET_MS;
    let mut out = Vec::new();
    let mut serial = 0u64;
    let mut bucket = start;
    while bucket + BUCKET_MS <= opts.end_ms {
        let hour = (bucket.rem_euclid(86_400_000)) as f64 / 3_600_000.0;
        // quiet at night, busy in the afternoon (UTC, for simplicity)
        let rhythm = 0.55 + 0.45 * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin();
        for brand in &BRANDS {
            let n = rng.poisson(brand.peak_rate * rhythm.max(0.1));
            let in_spike = brand.id == BRANDS[1].id && bucket >= spike_start && bucket < spike_end;
            let extra = if in_spike {
                rng.poisson(opts.spike_rate)
            } else {
                0
            };
            for i in 0..(n + extra) {
                let kind = if i >= n {
                    Kind::Spike
                } else {
                    match rng.below(100) {
                        0..=29 => Kind::Praise,
                        30..=44 => Kind::Question,
                        45..=69 => Kind::Neutral,
                        70..=94 => Kind::Complaint,
                        _ => Kind::SignalComplaint,
                    }
                };
                let template = match kind {
                    Kind::Praise => rng.pick(PRAISE),
                    Kind::Question => rng.pick(QUESTIONS),
                    Kind::Neutral => rng.pick(NEUTRAL),
                    Kind::Complaint => rng.pick(COMPLAINTS),
                    Kind::SignalComplaint => rng.pick(SIGNAL_COMPLAINTS),
                    Kind::Spike => rng.pick(SPIKE),
                };
                serial += 1;
                let event_ms = bucket + rng.below(BUCKET_MS as usize) as i64;
                let author = rng.below(if kind == Kind::Spike { 1_000_000 } else { 4000 });
                let fol = followers(&mut rng);
                let source = *rng.pick(&[
                    "x",
                    "x",
                    "x",
                    "mastodon",
                    "bluesky",
                    "reddit",
                    "facebook",
                    "instagram",
                ]);
                out.push(SampleMention {
                    brand: brand.id,
                    kind,
                    event_ms,
                    json: json!({
                        "source": source,
                        "external_id": format!("demo-{}-{serial}", opts.seed),
                        "url": format!("https://example.com/{source}/{serial}"),
                        "author": {
                            "id": format!("u{author}"),
                            "handle": format!("user{author}"),
                            "followers": fol,
                            "verified": fol > 50_000 && rng.below(3) == 0,
                        },
                        "text": fill(template, brand),
                        "language": "en",
                        "event_time": outcry_runtime::time::format_rfc3339_millis(event_ms),
                        "brands": [brand.id],
                        "engagement": {
                            "likes": rng.below(if kind == Kind::Spike { 400 } else { 30 }),
                            "reposts": rng.below(if kind == Kind::Spike { 120 } else { 5 }),
                            "replies": rng.below(10),
                            "quotes": rng.below(3),
                        },
                    }),
                });
            }
        }
        bucket += BUCKET_MS;
    }
    out.sort_by_key(|m| m.event_ms);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const END: i64 = 1_767_225_600_000;

    #[test]
    fn the_stream_is_deterministic_for_a_seed() {
        let a = generate(&SampleOptions::new(7, END));
        let b = generate(&SampleOptions::new(7, END));
        assert_eq!(a.len(), b.len());
        assert_eq!(a[100].json, b[100].json);
        assert_ne!(generate(&SampleOptions::new(8, END))[100].json, a[100].json);
    }

    #[test]
    fn the_stream_mixes_kinds_and_holds_one_spike_on_one_brand() {
        let opts = SampleOptions::new(7, END);
        let s = generate(&opts);
        let count = |k: Kind| s.iter().filter(|m| m.kind == k).count();
        assert!(
            count(Kind::Praise) > 1000 && count(Kind::Complaint) > 1000,
            "{}",
            s.len()
        );
        assert!(count(Kind::SignalComplaint) > 100);
        let spike: Vec<_> = s.iter().filter(|m| m.kind == Kind::Spike).collect();
        assert!(spike.len() > 500, "{}", spike.len());
        assert!(spike.iter().all(|m| m.brand == "nimbus-mobile"));
        let first = spike.first().unwrap().event_ms;
        let last = spike.last().unwrap().event_ms;
        assert!(
            last - first < 8 * BUCKET_MS && first >= END - opts.spike_before_end_ms - BUCKET_MS
        );
        assert!(s.windows(2).all(|w| w[0].event_ms <= w[1].event_ms));
        assert!(s.iter().all(|m| m.event_ms < END));
    }
}
