//! The configurations the project ships must load: a broken example is a broken deployment.

use outcry_runtime::Config;
use serde::Deserialize;

#[test]
fn the_demo_config_is_valid() {
    let config = Config::from_yaml(outcry_cli::demo::DEMO_CONFIG).unwrap();
    assert_eq!(config.brands.len(), 3);
}

#[test]
fn the_kubernetes_configmap_holds_a_valid_config() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/kubernetes/outcry.yaml"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let mut found = 0;
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value = serde_yaml_ng::Value::deserialize(doc).unwrap();
        if value["kind"] == "ConfigMap" {
            let embedded = value["data"]["outcry.yaml"].as_str().unwrap();
            let config = Config::from_yaml(embedded).unwrap();
            assert_eq!(config.telemetry.admin_addr.to_string(), "0.0.0.0:9464");
            found += 1;
        }
    }
    assert_eq!(found, 1);
}
