// shared helpers for the integration tests

/// xorshift64*: a deterministic generator, so the simulated streams are the same on every run
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

pub const BUCKET_MS: i64 = 300_000;
/// Monday 2024-01-01 00:00 UTC
pub const T0: i64 = 1_704_067_200_000;

/// Normal traffic: a daily rhythm (quiet nights, busy afternoons), quieter weekends,
/// overdispersed count noise.
pub fn normal_count(rng: &mut Rng, bucket: i64) -> u64 {
    let hour = (bucket % 288) as f64 / 12.0;
    let day = (bucket / 288) % 7;
    let weekly = if day >= 5 { 0.6 } else { 1.0 };
    let lambda = weekly * (40.0 + 30.0 * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin());
    let noisy = lambda * (0.12 * rng.normal()).exp() + lambda.sqrt() * rng.normal();
    noisy.round().max(0.0) as u64
}
