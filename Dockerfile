# pointillist-mock: the Pointillist mock, the Segment gateway or the demo, as a non-root user.
#   docker run -p 8787:8787 IMAGE                      the mock (pointillist-mock serve)
#   docker run -p 8788:8788 -e SEGMENT_GATEWAY_POINTILLIST_URL=http://mock:8787 \
#     -e SEGMENT_GATEWAY_POINTILLIST_TOKEN=t IMAGE gateway     the gateway
#   docker run --network=host IMAGE demo               the demo (binds 127.0.0.1)
# or POINTILLIST_ROLE=mock|gateway|demo without arguments (CI service containers take no command).
# Every flag is also an environment variable (docs/container.md). It installs the wheel of this
# project found in the folder WHEELS of the build context (`make wheel` writes dist/), with its
# dependencies from that folder or the package index.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS install
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
ARG WHEELS=dist
# PIP_NO_INDEX=1 when WHEELS holds the dependencies' wheels too (no index reached)
ARG PIP_NO_INDEX=
COPY ${WHEELS}/ /tmp/wheels/
RUN python3 -m venv /opt/pointillist \
 && set -- /tmp/wheels/pointillist_mock-*.whl \
 && /opt/pointillist/bin/pip install --no-cache-dir --disable-pip-version-check \
      --find-links /tmp/wheels "$1[demo]" \
 && /opt/pointillist/bin/pip uninstall --yes --quiet pip \
 && find /opt/pointillist -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home pointillist \
 && mkdir /data && chown pointillist:pointillist /data
COPY --from=install /opt/pointillist /opt/pointillist
COPY container/entrypoint.sh /usr/local/bin/pointillist-container
COPY container/healthcheck.py /usr/local/bin/pointillist-healthcheck
ENV PATH=/opt/pointillist/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    POINTILLIST_MOCK_HOST=0.0.0.0 \
    POINTILLIST_MOCK_PORT=8787 \
    POINTILLIST_MOCK_DB=/data/events.db \
    POINTILLIST_MOCK_ALLOW_HOST=* \
    SEGMENT_GATEWAY_HOST=0.0.0.0 \
    SEGMENT_GATEWAY_PORT=8788 \
    SEGMENT_GATEWAY_OUTBOX=/data/outbox.sqlite3 \
    SEGMENT_GATEWAY_ALLOW_HOST=*
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8787 8788
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["python3", "/usr/local/bin/pointillist-healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/pointillist-container"]
