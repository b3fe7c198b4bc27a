// The `shaken serve --ui` page. Everything shown comes from strangers (the
// pasted value, the certificates, the service's answer about them): it is
// put on the page as text nodes only, never parsed as HTML.
(function () {
  "use strict";
  var INSPECT = "/ui/v1/inspect";
  var CAPTURE = "/ui/v1/capture";
  var MAX_CAPTURE = 8 * 1024 * 1024;
  var KEY_STORE = "shaken.apikey";

  var $ = function (id) { return document.getElementById(id); };

  // el("td", {class: "mono"}, "text", child...): an element with text children.
  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (attrs[k] !== null && attrs[k] !== undefined) { e.setAttribute(k, String(attrs[k])); }
      });
    }
    for (var i = 2; i < arguments.length; i++) { add(e, arguments[i]); }
    return e;
  }
  function add(parent, c) {
    if (c === null || c === undefined || c === false) { return; }
    if (Array.isArray(c)) { c.forEach(function (x) { add(parent, x); }); return; }
    if (typeof c === "object" && c.nodeType) { parent.appendChild(c); return; }
    parent.appendChild(document.createTextNode(String(c)));
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function text(v) {
    if (v === null || v === undefined) { return ""; }
    if (typeof v === "string") { return v; }
    return JSON.stringify(v, null, 1);
  }

  // ------------------------------------------------------------ API key
  function apiKey() {
    try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
  }
  function setApiKey(k) {
    try {
      if (k) { sessionStorage.setItem(KEY_STORE, k); } else { sessionStorage.removeItem(KEY_STORE); }
    } catch (e) { /* storage disabled: the key lives in the field only */ }
  }

  // ------------------------------------------------------------ status
  function status(kind, msg) {
    var s = $("status");
    clear(s);
    if (msg) { s.appendChild(el("div", { "class": kind, id: kind === "error" ? "error" : null }, msg)); }
  }

  // The words for a service's refusal (ATIS-1000082 requestError).
  function refusal(httpStatus, body) {
    var exc = body && body.requestError &&
      (body.requestError.serviceException || body.requestError.policyException);
    if (httpStatus === 401) {
      return "This service needs an API key (" + (exc ? exc.messageId : "401") +
        "): enter it under \u201cAPI key\u201d above and check again.";
    }
    if (httpStatus === 413) {
      return "Too large for this service (" + (exc ? exc.text : "413") + ").";
    }
    if (exc) { return "The service refused the request: " + exc.messageId + " " + exc.text; }
    return "The service answered HTTP " + httpStatus + " without an explanation.";
  }

  function call(path, body, contentType) {
    var headers = { "Accept": "application/json", "Content-Type": contentType };
    var key = $("apikey").value.trim();
    if (key) { headers["Authorization"] = "Bearer " + key; }
    return fetch(path, { method: "POST", headers: headers, body: body, credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        return r.text().then(function (t) {
          var j = null;
          try { j = JSON.parse(t); } catch (e) { j = null; }
          if (!r.ok) { throw new Error(refusal(r.status, j)); }
          if (j === null || typeof j !== "object") { throw new Error("The service's answer is not JSON (HTTP " + r.status + ")."); }
          return j;
        });
      }, function (e) {
        throw new Error("The service did not answer: " + (e && e.message ? e.message : e));
      });
  }

  // ------------------------------------------------------------ words
  var VERSTAT = {
    "TN-Validation-Passed": ["passed", "Passed", "The signature is valid and the signer's certificate chains to a trusted STI-PA root: the signer vouches for this call."],
    "TN-Validation-Failed": ["failed", "Failed", "The signature or the signer's certificate did not check out: treat the calling number as unverified, and possibly spoofed."],
    "No-TN-Validation": ["none", "No validation", "Nothing could be verified (unsigned, unreadable, stale or mismatched): the calling number is unverified."]
  };
  var ATTEST = {
    A: "A, full attestation: the signer knows the customer and that they may use this calling number.",
    B: "B, partial attestation: the signer knows the customer, but not that they may use this number.",
    C: "C, gateway attestation: the signer only says where it received the call (for traceback)."
  };

  function verdictBox(v, hint, title) {
    var w = VERSTAT[v.verstat] || ["none", String(v.verstat), ""];
    var box = el("div", { "class": "verdict " + w[0], id: title ? null : "verdict" });
    box.appendChild(el("h2", null, (title ? title + ": " : "") + w[1] + " ", el("code", { "class": "verstat" }, v.verstat)));
    if (w[2]) { box.appendChild(el("p", { "class": "words" }, w[2])); }
    var passed = v.verstat === "TN-Validation-Passed";
    if (v.attest) {
      box.appendChild(el("p", { "class": "words attest" }, (passed ? "Attestation " : "Claimed (not verified) attestation ") +
        (ATTEST[v.attest] || String(v.attest))));
    }
    if (v.reason) {
      box.appendChild(el("p", { "class": "reason" },
        el("strong", null, "Reason: "), String(v.reason.code) + " " + text(v.reason.text) + " ",
        el("code", { "class": "reason-id" }, text(v.reason.id)), ": " + text(v.reason.detail)));
    }
    if (hint) { box.appendChild(el("p", { "class": "hint" }, el("strong", null, "What to do: "), hint)); }
    if (v.signer) {
      box.appendChild(el("p", { "class": "words signer" }, (passed ? "Signer: " : "Certificate examined: ") + text(v.signer.subject) +
        (v.signer.spc ? " (SPC " + text(v.signer.spc) + ")" : "") +
        (v.signer.trusted ? "" : ", not trusted")));
    }
    if (Array.isArray(v.warnings) && v.warnings.length) {
      box.appendChild(el("ul", { "class": "warnings" }, v.warnings.map(function (x) { return el("li", null, "Warning: " + text(x)); })));
    }
    // Members of the report this page does not know (new PASSporT types
    // add some): shown as they are.
    var more = {};
    Object.keys(v).forEach(function (k) {
      if (KNOWN_REPORT.indexOf(k) < 0 && v[k] !== null) { more[k] = v[k]; }
    });
    if (Object.keys(more).length) {
      box.appendChild(el("details", { "class": "more" }, el("summary", null, "More from the verifier"), objectTable(more)));
    }
    return box;
  }
  var KNOWN_REPORT = ["verstat", "attest", "orig", "dest", "origid", "iat", "x5u", "ppt", "reason", "signer",
    "warnings", "passports", "sip", "call_id", "from", "to", "index", "supported"];

  function kv(rows) {
    var t = el("table");
    rows.forEach(function (r) {
      if (r[1] === undefined) { return; }
      t.appendChild(el("tr", null, el("th", null, r[0]), el("td", { "class": "mono" }, r[1] === null ? "(none)" : text(r[1]))));
    });
    return t;
  }

  // Every member of an object, known or not (a div or rcd PASSporT has
  // claims this page has never heard of): names as given, values as JSON.
  function objectTable(o, extra) {
    var rows = [];
    if (o && typeof o === "object") {
      Object.keys(o).forEach(function (k) {
        rows.push([k, o[k]]);
        if (extra && extra[k] !== undefined) { rows.push([k + " (UTC)", extra[k]]); }
      });
    }
    return kv(rows);
  }

  function chainCard(p) {
    var card = el("div", { "class": "card chain" }, el("h3", null, "Certificate chain"));
    if (!Array.isArray(p.chain)) {
      card.appendChild(el("p", null, "No certificate was obtained for this PASSporT (see the reason above)."));
      return card;
    }
    card.appendChild(el("p", { "class": "source" }, p.chain_source === "pinned"
      ? "The chain this service is configured with (a pinned chain)."
      : "The chain fetched from the x5u URL."));
    var lint = Array.isArray(p.lint) ? p.lint : [];
    p.chain.forEach(function (c) {
      var findings = lint.filter(function (f) { return f.cert === c.index; });
      var sub = el("div", { "class": "card cert" });
      sub.appendChild(el("h3", null, "[" + c.index + "] " + text(c.role) + ": " + text(c.subject)));
      var tnal = c.tn_auth_list ? c.tn_auth_list.map(function (e) {
        if (e.spc !== undefined) { return "SPC " + e.spc; }
        if (e.tn !== undefined) { return "TN " + e.tn; }
        if (e.range) { return "range " + e.range.start + " (+" + e.range.count + ")"; }
        return text(e);
      }).join(", ") : (c.tn_auth_list_error ? "MALFORMED: " + c.tn_auth_list_error : null);
      sub.appendChild(kv([
        ["subject", c.subject], ["issuer", c.issuer], ["serial", c.serial],
        ["valid", text(c.not_before) + " to " + text(c.not_after) + " (" + text(c.validity) + ")"],
        ["key", c.key], ["CA", c.is_ca ? "yes" : "no"], ["TNAuthList", tnal],
        ["CRL", c.crl_distribution_points && c.crl_distribution_points.length ? c.crl_distribution_points.join(" ") : null],
        ["SHA-256", c.sha256]
      ]));
      if (findings.length) {
        sub.appendChild(el("ul", { "class": "findings" }, findings.map(function (f) {
          return el("li", null, el("span", { "class": "sev-" + f.severity }, f.severity + " "),
            el("code", null, text(f.code)), ": " + text(f.message));
        })));
      } else {
        sub.appendChild(el("p", { "class": "ok" }, "Lint (ATIS-1000080): no findings."));
      }
      card.appendChild(sub);
    });
    return card;
  }

  function passportCard(p, many) {
    var card = el("div", { "class": "card passport" });
    card.appendChild(el("h3", null, many ? "PASSporT [" + p.index + "]" : "PASSporT"));
    if (many && p.report) { card.appendChild(verdictBox(p.report, p.hint, "This PASSporT")); }
    if (p.decode_error) {
      card.appendChild(el("p", { "class": "error decode" }, "Cannot decode: " + text(p.decode_error)));
    }
    if (p.identity) {
      card.appendChild(el("h3", null, "Identity header parameters"));
      var rows = [["info", p.identity.info], ["alg", p.identity.alg], ["ppt", p.identity.ppt]];
      (p.identity.params || []).forEach(function (x) { rows.push([x.name, x.value]); });
      card.appendChild(kv(rows));
    }
    if (p.form === "compact") {
      card.appendChild(el("p", null, "Compact form: only the signature travels; header and claims are rebuilt from the SIP request."));
    }
    if (p.header) {
      card.appendChild(el("h3", null, "Header"));
      card.appendChild(objectTable(p.header));
    }
    if (p.claims) {
      card.appendChild(el("h3", null, "Claims"));
      card.appendChild(objectTable(p.claims, { iat: p.iat_utc }));
    }
    if (p.signature) { card.appendChild(kv([["signature", p.signature]])); }
    card.appendChild(chainCard(p));
    return card;
  }

  function linkTo(value) {
    var url = location.origin + location.pathname + "#identity=" + encodeURIComponent(value);
    var orig = $("orig").value.trim();
    var dest = $("dest").value.trim();
    if (orig) { url += "&orig=" + encodeURIComponent(orig); }
    if (dest) { url += "&dest=" + encodeURIComponent(dest); }
    return el("p", { "class": "link" }, "Link to this check: ", el("a", { href: url, id: "permalink" }, url));
  }

  // What an SBC would post to the ATIS-1000082 endpoint for this check,
  // and a button that posts it. Not done by itself: the endpoint records the
  // PASSporT for replay detection, as for a real call.
  function atisCard(value, checkedAt) {
    var orig = $("orig").value.trim();
    var dest = $("dest").value.trim().split(/[\s,]+/).filter(function (x) { return x; });
    var card = el("div", { "class": "card atis", id: "atis" }, el("h3", null, "As an ATIS-1000082 verification request"));
    if (!orig || !dest.length) {
      card.appendChild(el("p", null, "Give the calling and called numbers above to see the request an SBC would send to /stir/v1/verification."));
      return card;
    }
    var req = { verificationRequest: { from: { tn: orig }, to: { tn: dest }, time: checkedAt, identity: value } };
    var body = JSON.stringify(req);
    card.appendChild(el("pre", { "class": "mono", id: "atis-request" }, body));
    var answer = el("pre", { "class": "mono", id: "atis-response" });
    var send = el("button", { type: "button", id: "atis-send" }, "Send to /stir/v1/verification");
    send.addEventListener("click", function () {
      answer.textContent = "Sending\u2026";
      call("/stir/v1/verification", body, "application/json").then(function (j) {
        answer.textContent = JSON.stringify(j, null, 1);
      }, function (e) { answer.textContent = e.message; });
    });
    card.appendChild(el("p", null, send, " This counts as a call: the service records the PASSporT, so sending it again with another time is a replay (the check above records nothing)."));
    card.appendChild(answer);
    return card;
  }

  function renderInspect(r, value) {
    var out = $("result");
    clear(out);
    var v = r.verdict || {};
    out.appendChild(verdictBox(v, r.hint));
    out.appendChild(el("p", { "class": "checked" }, "Checked at " + text(r.checked_at_utc) + " by this service."));
    if (r.error) { out.appendChild(el("p", { "class": "error" }, text(r.error))); }
    if (r.kind === "sip") {
      var sig = v.sip || {};
      out.appendChild(el("div", { "class": "card sip" }, el("h3", null, "The call"), kv([
        ["Call-ID", v.call_id === undefined ? undefined : v.call_id],
        ["From", v.from === undefined ? undefined : v.from],
        ["To", v.to === undefined ? undefined : v.to],
        ["Identity headers", (r.passports || []).length],
        ["verstat to signal", sig.verstat_param],
        ["Reason header", sig.reason_header === undefined ? undefined : sig.reason_header]
      ])));
    } else if (value) {
      out.appendChild(linkTo(value));
    }
    (r.passports || []).forEach(function (p) { out.appendChild(passportCard(p, r.kind === "sip")); });
    if (r.kind === "identity" && value) { out.appendChild(atisCard(value, r.checked_at)); }
  }

  function renderCapture(r) {
    var out = $("result");
    clear(out);
    var s = r.stats || {};
    out.appendChild(el("div", { "class": "card capture", id: "capture-summary" }, el("h3", null, "Capture"), kv([
      ["packets", s.packets], ["SIP messages", s.sip_messages], ["INVITEs", s.invites],
      ["calls shown", (r.calls || []).length], ["calls not shown", r.truncated || 0],
      ["unreadable INVITEs", (r.unreadable || []).length]
    ])));
    if (r.capture_error) {
      out.appendChild(el("p", { "class": "error" }, "The capture ends with an error: " + text(r.capture_error) + "; the calls before it are shown."));
    }
    (r.calls || []).forEach(function (c) {
      var v = c.verdict || {};
      var w = VERSTAT[v.verstat] || ["none"];
      var d = el("details", { "class": "call" });
      d.appendChild(el("summary", null, el("span", { "class": "tag " + w[0] }, v.verstat),
        text(c.time) + " " + text(c.src) + " \u2192 " + text(c.dst) + "  " + text(v.from) + " \u2192 " + text(v.to) +
        (v.attest ? "  attest " + v.attest : "") + (v.reason ? "  " + v.reason.code + " " + v.reason.id : "")));
      d.appendChild(verdictBox(v, c.hint, "Call-ID " + text(v.call_id)));
      (c.passports || []).forEach(function (p) { d.appendChild(passportCard(p, true)); });
      out.appendChild(d);
    });
    (r.unreadable || []).forEach(function (u) {
      out.appendChild(el("p", { "class": "error" }, "Packet " + u.packet + " (" + text(u.src) + " \u2192 " + text(u.dst) + "): " + text(u.error)));
    });
    if (!(r.calls || []).length && !(r.unreadable || []).length) {
      out.appendChild(el("p", { "class": "error" }, "No INVITE in this capture."));
    }
  }

  // ------------------------------------------------------------ actions
  function check() {
    var value = $("value").value;
    if (!value.trim()) { status("error", "Paste an Identity header value or a whole SIP INVITE first."); return; }
    var body = { input: value, kind: $("kind").value };
    var orig = $("orig").value.trim();
    var dest = $("dest").value.trim();
    if (orig) { body.orig = orig; }
    if (dest) { body.dest = dest.split(/[\s,]+/).filter(function (x) { return x; }); }
    status("busy", "Checking\u2026");
    clear($("result"));
    call(INSPECT, JSON.stringify(body), "application/json").then(function (r) {
      status("", "");
      renderInspect(r, r.kind === "identity" ? value.trim() : null);
    }, function (e) { status("error", e.message); });
  }

  function checkCapture() {
    var f = $("capture").files && $("capture").files[0];
    if (!f) { status("error", "Choose a capture file (pcap or pcapng) first."); return; }
    if (f.size === 0) { status("error", "The file " + f.name + " is empty."); return; }
    if (f.size > MAX_CAPTURE) {
      status("error", "The file " + f.name + " is " + f.size + " bytes; this page takes captures up to " + MAX_CAPTURE + " bytes (use shaken verify --pcap for larger ones).");
      return;
    }
    status("busy", "Reading and checking " + f.name + "\u2026");
    clear($("result"));
    f.arrayBuffer().then(function (buf) {
      return call(CAPTURE, buf, "application/vnd.tcpdump.pcap");
    }).then(function (r) { status("", ""); renderCapture(r); }, function (e) { status("error", e.message); });
  }

  // #identity=<percent-encoded value>[&orig=TN][&dest=TN]: fill the form
  // and check.
  function fromHash() {
    var h = location.hash.replace(/^#/, "");
    if (!h) { return; }
    var got = {};
    var bad = null;
    h.split("&").forEach(function (part) {
      var i = part.indexOf("=");
      var name = i < 0 ? part : part.slice(0, i);
      if (name !== "identity" && name !== "orig" && name !== "dest") { bad = bad || ("unknown " + name); return; }
      try { got[name] = decodeURIComponent(part.slice(i + 1).replace(/\+/g, "%20")); } catch (e) {
        bad = "percent";
      }
    });
    if (bad === "percent") { status("error", "The link's #identity= value is not valid percent-encoding."); return; }
    if (got.identity === undefined || bad) { status("error", "The link's fragment is not #identity=VALUE (" + (bad || "no identity") + ")."); return; }
    $("value").value = got.identity;
    $("kind").value = "identity";
    $("orig").value = got.orig || "";
    $("dest").value = got.dest || "";
    check();
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("apikey").value = apiKey();
    if ($("apikey").value) { $("auth").open = true; }
    $("apikey").addEventListener("input", function () { setApiKey($("apikey").value.trim()); });
    $("forget").addEventListener("click", function () { $("apikey").value = ""; setApiKey(""); });
    $("check-form").addEventListener("submit", function (ev) { ev.preventDefault(); check(); });
    $("check-capture").addEventListener("click", checkCapture);
    window.addEventListener("hashchange", fromHash);
    fromHash();
  });
})();
