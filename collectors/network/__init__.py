"""Network collector: isolation probes, dedicated-network evidence, nmap scans.

`NetworkCollector` reads the interfaces, routes and resolvers of the network
namespace it runs in, runs the configured TCP connect probes, and scans the
configured targets with nmap. Every target passes the scope guard
(`check_targets` with a `ScopePolicy`) when the config is loaded, before any
packet is sent.

Keys, values and provenance (all measured):

- network.isolated_segment (bool): from the probes; see collectors.network.probes.
  No blocked probe configured, or probes that cannot decide, give a gap.
- infrastructure.dedicated_network (bool): from the interfaces; false is a lower
  bound. See collectors.network.interfaces.
- network.services (components): each open TCP port on the targets, named
  host:port/tcp, with nmap's service, product, version and match method.
- stack.components, software.proprietary, ai.components, video.analytics
  (components, lower bounds): catalogue products named on open ports, only when
  one is found, each citing host, port and the strength of the match.
- architecture.data_stores (count, lower bound): distinct database and broker
  products that version detection confirmed on the targets, when no database
  source is configured.
"""

from collectors.network.collector import (
    HostPaths,
    NetworkCollector,
    ProbeSettings,
    ScanSettings,
)
from collectors.network.ports import default_ports
from collectors.network.probes import Probe
from collectors.network.scope import ScopeError, ScopePolicy, Target, check_targets

__all__ = [
    "HostPaths",
    "NetworkCollector",
    "Probe",
    "ProbeSettings",
    "ScanSettings",
    "ScopeError",
    "ScopePolicy",
    "Target",
    "check_targets",
    "default_ports",
]
