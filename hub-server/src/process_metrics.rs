//! The process's own metrics, under the names every Prometheus exporter
//! uses (`process_resident_memory_bytes`, `process_open_fds`,
//! `process_cpu_seconds_total`, ...), read from `/proc/self` at each scrape
//! through the procfs crate. On a system without `/proc` nothing is
//! exported.

use procfs::process::{LimitValue, Process};
use procfs::WithCurrentSystemInfo;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Ok(me) = Process::myself() else {
            return Ok(());
        };
        let gauge = |encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64| {
            let metric = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
            metric.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)
        };
        if let Ok(stat) = me.stat() {
            let ticks = procfs::ticks_per_second().max(1) as f64;
            let cpu = ConstCounter::new((stat.utime + stat.stime) as f64 / ticks);
            let help = "Total user and system CPU time spent in seconds.";
            cpu.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                help,
                None,
                MetricType::Counter,
            )?)?;
            let help = "Resident memory size in bytes.";
            let rss = stat.rss_bytes().get();
            gauge(&mut encoder, "process_resident_memory_bytes", help, rss)?;
            let help = "Virtual memory size in bytes.";
            gauge(
                &mut encoder,
                "process_virtual_memory_bytes",
                help,
                stat.vsize,
            )?;
            let help = "Number of OS threads in the process.";
            let threads = u64::try_from(stat.num_threads).unwrap_or(0);
            gauge(&mut encoder, "process_threads", help, threads)?;
            if let Ok(boot) = procfs::boot_time_secs() {
                let start = boot as f64 + stat.starttime as f64 / ticks;
                let metric = ConstGauge::new(start);
                let help = "Start time of the process since unix epoch in seconds.";
                metric.encode(encoder.encode_descriptor(
                    "process_start_time_seconds",
                    help,
                    None,
                    MetricType::Gauge,
                )?)?;
            }
        }
        if let Ok(open) = me.fd_count() {
            let help = "Number of open file descriptors.";
            gauge(&mut encoder, "process_open_fds", help, open as u64)?;
        }
        if let Ok(limits) = me.limits() {
            if let LimitValue::Value(max) = limits.max_open_files.soft_limit {
                let help = "Maximum number of open file descriptors.";
                gauge(&mut encoder, "process_max_fds", help, max)?;
            }
        }
        Ok(())
    }
}
