// njs for the edge (nginx.conf.template): the preview grant check, the SigV4 signature of
// origin requests, the redacted access log line and the edge's own 416. Secrets come from
// the environment nginx keeps for its workers (`env` directives), never from the rendered
// config file.

const crypto = require("crypto");

// ---- preview grants: dailies/grant_rules.py's verify_grant, in the edge ----

const GRANT = /^([0-9]{1,12})\.([0-9a-f]{64})$/;
const PREVIEW = /^\/previews\/([0-9a-f]{64})\//;

function sameText(a, b) {
  // Compare every character, so the time taken says nothing about how much matched.
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

// "ok" or why not; the caller refuses anything but "ok".
function grant(r) {
  const secret = process.env.DAILIES_EDGE_GRANT_SECRET;
  // Without a key nothing is granted (an empty HMAC key would make every grant forgeable).
  if (!secret) return "no-secret";
  // Checked before the location's rewrite: r.uri is still /previews/{sha}/….
  const path = PREVIEW.exec(r.uri);
  if (!path) return "no-sha";
  // The cookie for browsers (the API sets it), ?grant= for clients without cookies. Either
  // valid one will do: a stale cookie left beside a fresh ?grant= must not refuse it.
  const offered = [r.variables.cookie_dailies_grant, r.args.grant].filter(Boolean);
  let why = "missing";
  for (let i = 0; i < offered.length && why !== "ok"; i++) {
    why = check(secret, path[1], offered[i], Number(r.variables.msec));
  }
  return why;
}

function check(secret, sha, value, now) {
  const parts = GRANT.exec(value);
  if (!parts) return "malformed";
  if (Number(parts[1]) <= now) return "expired";
  const mac = crypto.createHmac("sha256", secret).update(`${sha}:${parts[1]}`).digest("hex");
  return sameText(mac, parts[2]) ? "ok" : "invalid";
}

// ---- SigV4 for the proxied GET: the previews bucket is private ----

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

function hmac(key, text) {
  return crypto.createHmac("sha256", key).update(text).digest();
}

// nginx's cached time ($msec) is the same for every variable of one upstream request, so
// the signed date and the x-amz-date header always agree.
function amzDate(r) {
  const iso = new Date(Math.floor(Number(r.variables.msec)) * 1000).toISOString();
  return iso.replace(/[-:]/g, "").replace(/\.\d{3}/, ""); // 20260101T120000Z
}

// S3 keys of previews are [A-Za-z0-9_./-] (the locations allow nothing else), so the
// rewritten URI is already its canonical form.
function authorization(r) {
  const access = process.env.DAILIES_EDGE_S3_ACCESS_KEY_ID;
  const secret = process.env.DAILIES_EDGE_S3_SECRET_ACCESS_KEY;
  if (!access || !secret) return "";
  const region = process.env.DAILIES_EDGE_S3_REGION || "us-east-1";
  const token = process.env.DAILIES_EDGE_S3_SESSION_TOKEN || "";
  const date = amzDate(r);
  const day = date.slice(0, 8);
  const names = ["host", "x-amz-content-sha256", "x-amz-date"];
  const values = [r.variables.s3_host, EMPTY_SHA256, date];
  if (token) {
    names.push("x-amz-security-token");
    values.push(token);
  }
  const headers = names.map((name, i) => `${name}:${values[i]}\n`).join("");
  const signed = names.join(";");
  const canonical = ["GET", r.uri, "", headers, signed, EMPTY_SHA256].join("\n");
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope,
    crypto.createHash("sha256").update(canonical).digest("hex")].join("\n");
  let key = hmac(`AWS4${secret}`, day);
  key = hmac(key, region);
  key = hmac(key, "s3");
  key = hmac(key, "aws4_request");
  const signature = crypto.createHmac("sha256", key).update(toSign).digest("hex");
  return `AWS4-HMAC-SHA256 Credential=${access}/${scope}, SignedHeaders=${signed}, ` +
    `Signature=${signature}`;
}

function sessionToken() {
  return process.env.DAILIES_EDGE_S3_SESSION_TOKEN || "";
}

// ---- the access log: the request line with its secrets redacted ----

// dailies/redaction.py's rule: a grant, and every X-Amz-* (a presigned URL's signature and
// credential), SigV2's Signature/AWSAccessKeyId. Names are compared decoded, as the grant
// check reads them (`?gr%61nt=` is a grant too).
const SECRET_PARAM = /^(x-amz-[a-z0-9-]+|signature|awsaccesskeyid|grant)$/i;
const REQUEST_TARGET = /^(\S+ [^?\s]*\?)(\S*)(.*)$/;

function paramName(raw) {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch (e) {
    return raw; // malformed escapes: compared as sent
  }
}

function redactQuery(query) {
  return query.split("&").map((pair) => {
    const eq = pair.indexOf("=");
    if (eq < 0 || !SECRET_PARAM.test(paramName(pair.slice(0, eq)))) return pair;
    return `${pair.slice(0, eq)}=REDACTED`;
  }).join("&");
}

// "METHOD target PROTOCOL" as the client sent it, the target's query redacted.
function loggedRequest(r) {
  const line = r.variables.request || "";
  const found = REQUEST_TARGET.exec(line);
  return found ? found[1] + redactQuery(found[2]) + found[3] : line;
}

// ---- the edge's own 416 ----

const UNSATISFIED = /^bytes \*\/([0-9]+)$/;

// A range past the end (error_page 416). nginx's range filter decides it after the object's
// answer was dressed (its ETag, the year-long Cache-Control, the edge's own headers once
// already) and keeps all of that on its 416; S3's 416 (a preview.mp4 slice beyond the end)
// comes with an XML document. The client gets neither: only the object's length, where one
// of them said it, and a short JSON reason (the server's add_header then add no-store).
function rangeNotSatisfiable(r) {
  const said = [r.headersOut["Content-Range"], r.variables.upstream_http_content_range]
    .map((value) => UNSATISFIED.exec(value || ""))
    .find(Boolean);
  Object.keys(r.headersOut).forEach((name) => delete r.headersOut[name]);
  if (said) r.headersOut["Content-Range"] = `bytes */${said[1]}`;
  r.headersOut["Content-Type"] = "application/json";
  r.return(416, '{"detail": "range not satisfiable"}\n');
}

export default {
  grant, amzDate, authorization, sessionToken, loggedRequest, rangeNotSatisfiable,
};
