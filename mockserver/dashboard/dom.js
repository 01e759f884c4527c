// Building DOM and SVG nodes. Text always goes in as text nodes, never as HTML: event data is
// whatever a client sent.

const SVG_NS = "http://www.w3.org/2000/svg";

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** An HTML element: h("li", {class: "x"}, "text", h("b", {}, "bold")). */
export function h(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element, like h(). */
export function s(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function replace(node, ...children) {
  node.replaceChildren();
  return fill(node, {}, children);
}

/** 2026-11-28T10:00:00.000Z → 2026-11-28 10:00:00Z (milliseconds only when there are some). */
export function when(iso) {
  return iso ? iso.replace("T", " ").replace(/\.000Z$/, "Z") : "—";
}

/** A <time> showing when(iso), with the exact value on hover. */
export function time(iso, text = when(iso)) {
  return h("time", { datetime: iso, title: iso }, text);
}

export function plural(count, one, many = `${one}s`) {
  return `${count.toLocaleString("en")} ${count === 1 ? one : many}`;
}

/** Calls `fn` at most once per `ms`, always once more after the last request. */
export function throttle(fn, ms) {
  let timer = null;
  let again = false;
  const run = () => {
    timer = null;
    if (again) {
      again = false;
      timer = setTimeout(run, ms);
      fn();
    }
  };
  return () => {
    again = true;
    if (timer === null) run();
  };
}
