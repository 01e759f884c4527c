// The inspection API (/_mock/*) for one token.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor(token) {
    this.token = token;
  }

  async get(path, params = {}) {
    const url = new URL(path, location.origin);
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) url.searchParams.set(name, value);
    }
    let response;
    try {
      response = await fetch(url, { headers: { apiToken: this.token }, cache: "no-store" });
    } catch (error) {
      throw new ApiError(0, "unreachable", `the mock cannot be reached (${error.message})`);
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = body?.error ?? {};
      throw new ApiError(response.status, error.code ?? `http_${response.status}`,
        error.message ?? `${response.status} ${response.statusText}`);
    }
    return body;
  }

  /** The live feed. EventSource cannot send headers, so the token goes in the query. */
  stream() {
    return new EventSource(`/_mock/stream?token=${encodeURIComponent(this.token)}`);
  }
}

/** A route this mock does not have (as opposed to, say, an unknown actor). */
export function missingRoute(error) {
  return error instanceof ApiError && error.status === 404 && error.code === "not_found";
}
