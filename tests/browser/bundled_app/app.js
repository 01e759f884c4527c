// A web app's own code, as a site writes it with the npm package; esbuild bundles it with
// @segment/analytics-next from web/node_modules (tests/browser/bundled_page.py).
import { AnalyticsBrowser } from "@segment/analytics-next";

// The page says which gateway, write key and InitOptions (tests vary the delivery strategy).
const config = JSON.parse(document.getElementById("app-config").textContent);

// The one line that points a site at the gateway instead of Segment: cdnURL.
window.analytics = AnalyticsBrowser.load(
  { writeKey: config.writeKey, cdnURL: config.gateway },
  config.options,
);
