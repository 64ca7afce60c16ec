//! [`AwsSecrets`] against the moto emulator: values, missing secrets, the prefix and the
//! 5-minute cache.
//!
//! Run with `cargo test -p kite-aws --features testing --test secrets`.

use std::sync::Arc;
use std::time::Duration;

use kite_aws::secrets::AwsSecrets;
use kite_aws::testing;
use kite_ports::{ManualClock, SecretStore, contract};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_values_and_missing_secrets() {
    let clients = testing::clients().await;
    clients
        .secrets
        .create_secret()
        .name(clients.config.name("DB_PASSWORD"))
        .secret_string("s3cr3t")
        .send()
        .await
        .expect("create secret");
    // Same name without the prefix: another installation's secret, never read.
    clients
        .secrets
        .create_secret()
        .name(format!("other-{}", clients.config.name("API_KEY")))
        .secret_string("not mine")
        .send()
        .await
        .expect("create secret");

    let secrets = AwsSecrets::new(&clients, Arc::new(contract::clock()));
    assert_eq!(
        secrets.get("DB_PASSWORD").await,
        Ok(Some("s3cr3t".to_owned()))
    );
    assert_eq!(secrets.get("API_KEY").await, Ok(None));
    assert_eq!(secrets.get("NOPE").await, Ok(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_cached_for_five_minutes() {
    let clients = testing::clients().await;
    let id = clients.config.name("TOKEN");
    clients
        .secrets
        .create_secret()
        .name(&id)
        .secret_string("v1")
        .send()
        .await
        .expect("create secret");
    let clock: ManualClock = contract::clock();
    let secrets = AwsSecrets::new(&clients, Arc::new(clock.clone()));
    assert_eq!(secrets.get("TOKEN").await, Ok(Some("v1".to_owned())));
    assert_eq!(secrets.get("LATER").await, Ok(None));

    clients
        .secrets
        .put_secret_value()
        .secret_id(&id)
        .secret_string("v2")
        .send()
        .await
        .expect("rotate");
    clients
        .secrets
        .create_secret()
        .name(clients.config.name("LATER"))
        .secret_string("here now")
        .send()
        .await
        .expect("create secret");

    let before = clients.metrics.snapshot();
    clock.advance(Duration::from_secs(299));
    assert_eq!(
        secrets.get("TOKEN").await,
        Ok(Some("v1".to_owned())),
        "cached"
    );
    assert_eq!(
        secrets.get("LATER").await,
        Ok(None),
        "absence is cached too"
    );
    assert!(
        clients
            .metrics
            .snapshot()
            .since(&before)
            .requests
            .is_empty(),
        "cached answers make no call"
    );

    clock.advance(Duration::from_secs(1));
    assert_eq!(secrets.get("TOKEN").await, Ok(Some("v2".to_owned())));
    assert_eq!(secrets.get("LATER").await, Ok(Some("here now".to_owned())));
}
