"""K cores on one device (spec §12.7, docs/rtl.md "Many cores"): unchanged cores in lock-step,
joined by a router of address events.

    device   MultiCore: the cores, the input feeder, the tick barrier, the access port's
             core selection, the merged output spikes
    routing  RouteUnit (a core's spikes -> packets through its routing table),
             RemoteInbox (a core's remote axons of the next tick, released ascending),
             Crossbar (packets to their destination's inbox, one per destination and cycle)
"""

from .device import MultiCore

__all__ = ["MultiCore"]
