"""Load balancing through HAProxy: configuration rendering, the agent check, node presence,
the runtime-API reconciliation and the client's real address behind trusted proxies.

The pure parts (:mod:`.haproxy_config`, :mod:`.agent_answer`, :mod:`.plan`, :mod:`.forwarded`)
take values and return values; the thin adapters (:mod:`.presence`, :mod:`.registry`,
:mod:`.runtime_api`, :mod:`.runner`) do the I/O.
"""
