"""Repository collector: facts a source tree and its git history declare.

`RepositoryCollector(path)` reads a checkout without running anything from it,
for a scan before the system is deployed. Keys, units and values:

- stack.components (components): runtimes, direct dependencies, lock file
  packages that the catalogue names, packages installed by Dockerfile RUN
  lines, and container images (Dockerfile FROM, Kubernetes, Helm values,
  Compose). A lock file in the same directory as a manifest gives the resolved
  version and licence. Each component has name, version, kind, ecosystem or
  image, product fields when the catalogue names it, and evidence (file and
  line).
- software.proprietary (components): catalogue products of class proprietary
  or source_available (e.g. an Oracle Database or SQL Server base image), and
  packages whose declared licence is of those classes (e.g. "UNLICENSED").
- ai.components (components): AI frameworks and inference servers the
  catalogue names, and model files by extension.
- architecture.runtimes (count, derived): distinct language runtimes declared.
- architecture.services (count, derived): distinct names of Deployments,
  StatefulSets and DaemonSets in Kubernetes manifests.
- hardware.specialized (components): extended resources requested by
  containers (GPUs, FPGAs, accelerators).
- infrastructure.dedicated_servers (bool): scheduling onto dedicated nodes.
- network.isolated_segment (bool): a default-deny NetworkPolicy.
- project.development_months (months, derived): first to last commit.
- project.commissioning_phases (count, derived): tags that match the stage
  tag pattern.

Negatives (an empty list, false, zero stages) are lower bounds, since files in a
repository cannot rule out what is deployed from elsewhere.
"""

from collectors.repository.collector import (
    DEFAULT_STAGE_TAG_PATTERN,
    RepositoryCollector,
)

__all__ = ["DEFAULT_STAGE_TAG_PATTERN", "RepositoryCollector"]
