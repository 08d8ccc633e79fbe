//! `cdcform simulate`: serve the in-memory TiCDC OpenAPI v2 simulator until SIGINT/SIGTERM.
use crate::cli::{SimKernelArg, SimProfileArg, SimulateArgs};
use crate::output::Output;
use crate::simulator::catalog::Catalog;
use crate::simulator::{FaultSpec, SimConfig, SimKernel, SimProfile, SimTls, Simulator};
use crate::ticdc::Version;
use crate::Error;

pub fn config_from_args(a: &SimulateArgs) -> Result<SimConfig, Error> {
    let profile = match a.profile {
        SimProfileArg::Classic => {
            let version = match &a.server_version {
                None => Version::new(8, 5, 0),
                Some(s) => Version::parse(s)
                    .ok_or_else(|| Error::msg(format!("--server-version: cannot parse {s:?}")))?,
            };
            SimProfile::Classic { version }
        }
        SimProfileArg::Newarch => SimProfile::Newarch,
    };
    let faults = a
        .faults
        .as_deref()
        .map(FaultSpec::parse)
        .transpose()
        .map_err(|e| Error::msg(format!("--faults: {e}")))?;
    let basic_auth = match &a.basic_auth {
        None => None,
        Some(s) => {
            let (u, p) = s
                .split_once(':')
                .ok_or_else(|| Error::msg("--basic-auth: expected USER:PASS"))?;
            Some((u.to_string(), p.to_string()))
        }
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(SimTls {
            cert: cert.clone(),
            key: key.clone(),
            client_ca: a.client_ca.clone(),
        }),
        _ => None,
    };
    Ok(SimConfig {
        profile,
        tick: a.tick,
        latency: a.latency,
        changefeeds: a.changefeeds,
        faults,
        tls,
        basic_auth,
        sink_check: !a.no_sink_check,
        limits: Default::default(),
        kernel: match a.kernel {
            SimKernelArg::Classic => SimKernel::Classic,
            SimKernelArg::Nextgen => SimKernel::NextGen {
                keyspaces: a.keyspaces.clone(),
            },
        },
        catalog: match &a.catalog {
            None => None,
            Some(p) if p.as_os_str() == "builtin" => Some(std::sync::Arc::new(Catalog::builtin())),
            Some(path) => Some(std::sync::Arc::new(
                Catalog::load(path).map_err(Error::msg)?,
            )),
        },
    })
}

pub async fn run(a: SimulateArgs, out: &Output) -> Result<i32, Error> {
    let cfg = config_from_args(&a)?;
    let mut label = cfg.profile.label();
    match (&cfg.kernel, cfg.profile.is_classic()) {
        (_, true) => {}
        (SimKernel::Classic, false) => label.push_str(", classic kernel"),
        (SimKernel::NextGen { keyspaces }, false) => label.push_str(&format!(
            ", next-gen kernel, keyspaces {}",
            keyspaces.join(",")
        )),
    }
    let sim = Simulator::start(cfg, &a.listen)
        .await
        .map_err(|e| Error::msg(e.to_string()))?;
    out.progress(&format!(
        "TiCDC simulator ({label}) listening on {}",
        sim.url()
    ));
    let shutdown = crate::shutdown::Shutdown::new();
    shutdown.listen(|_| {});
    shutdown.graceful().await;
    sim.shutdown().await;
    Ok(0)
}
