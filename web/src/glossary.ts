// Terms a guard or an analyst may not know, explained for the other team. The live feed, the
// incident page and the glossary view use this list.

export interface Term {
  term: string;
  /** Other spellings that mean the same. */
  aliases?: string[];
  /** Which world the term comes from. */
  area: "cyber" | "physical" | "operations" | "public";
  /** One line, shown as the tooltip. */
  short: string;
  /** A few sentences for the glossary page. */
  long: string;
}

export const GLOSSARY: Term[] = [
  {
    term: "CEF",
    area: "cyber",
    short: "Common Event Format: a one-line text format security products use to send log events.",
    long: "A log line of the form CEF:0|vendor|product|version|id|name|severity|key=value… that firewalls, EDR and other security tools send over syslog. Tocsin reads it and maps its fields into one event model.",
  },
  {
    term: "LEEF",
    area: "cyber",
    short: "Log Event Extended Format: a log line format similar to CEF, common with IBM QRadar.",
    long: "A key/value log format sent over syslog by many security products. Tocsin parses it like CEF.",
  },
  {
    term: "syslog",
    area: "cyber",
    short: "The standard way network devices and servers send log messages over the network.",
    long: "Messages sent over UDP or TCP (RFC 5424 or the older RFC 3164). Most security and building systems can send their events this way.",
  },
  {
    term: "tailgating",
    aliases: ["piggybacking"],
    area: "physical",
    short: "Someone follows a badge holder through a door without badging in themselves.",
    long: "A person walks in behind someone who opened a controlled door. Tocsin detects it when a door is held or passed more times than badges were presented, or when someone is active inside without a badge-in.",
  },
  {
    term: "geofence",
    aliases: ["geofences"],
    area: "physical",
    short: "An outline on the map (a radius or a polygon) that marks a site's area.",
    long: "The area a site covers. Events inside a geofence are attributed to that site; the map draws each site's geofence.",
  },
  {
    term: "MTTA",
    area: "operations",
    short: "Mean time to acknowledge: how long on average until someone takes an alert.",
    long: "The average time between an incident opening and a responder acknowledging it. Lower is better; the metrics page shows it per team.",
  },
  {
    term: "MTTR",
    area: "operations",
    short: "Mean time to resolve: how long on average until an incident is resolved.",
    long: "The average time between an incident opening and it being resolved. Shown per team on the metrics page.",
  },
  {
    term: "IOC",
    aliases: ["IOCs", "indicator of compromise"],
    area: "cyber",
    short: "Indicator of compromise: a known-bad value such as an IP address, domain or file hash.",
    long: "Evidence that a system may be compromised: a malicious IP address, domain, URL or file hash. Alerts name the indicator that matched.",
  },
  {
    term: "badge-in",
    aliases: ["badged in", "badge in"],
    area: "physical",
    short: "A person presented their access badge at a reader and the door let them in.",
    long: "The access control system records each badge presented at a reader, with the door, the time and whether access was granted. Tocsin uses badge-ins to know who is on which site.",
  },
  {
    term: "PACS",
    area: "physical",
    short: "Physical access control system: the badge readers, door controllers and their server.",
    long: "The system that decides which badge opens which door and logs every attempt. It is a source of physical events and also an IT system that can be attacked.",
  },
  {
    term: "EDR",
    area: "cyber",
    short: "Endpoint detection and response: security software on laptops and servers that reports threats.",
    long: "An agent on each computer that watches processes, files and network connections and reports suspicious activity (e.g. ransomware) to the security team.",
  },
  {
    term: "VPN",
    area: "cyber",
    short: "Virtual private network: an encrypted connection from outside into the company network.",
    long: "Staff working remotely connect through a VPN. A VPN logon shows where a person's account is being used from, which Tocsin compares with where their badge says they are.",
  },
  {
    term: "SIA DC-09",
    aliases: ["DC-09", "DC09"],
    area: "physical",
    short: "The standard protocol intruder alarm panels use to report alarms to a receiving centre over IP.",
    long: "Alarm panels send encrypted, sequenced frames (SIA or Contact ID codes) to a receiver, which acknowledges each one. Tocsin acts as such a receiver and also watches the panels' supervision messages.",
  },
  {
    term: "Contact ID",
    area: "physical",
    short: "A numeric code format alarm panels use for events (e.g. 130 burglary, 401 arm/disarm).",
    long: "Ademco Contact ID codes identify alarm events by number; they travel inside DC-09 frames.",
  },
  {
    term: "ONVIF",
    area: "physical",
    short: "The standard IP cameras and video systems use to announce events such as motion or tampering.",
    long: "Cameras send ONVIF event notifications (motion, line crossing, tampering, going offline). Tocsin receives them and turns them into physical events.",
  },
  {
    term: "CVE",
    aliases: ["CVEs"],
    area: "cyber",
    short: "Common Vulnerabilities and Exposures: the public ID of a known software flaw (e.g. CVE-2024-1234).",
    long: "Each publicly known vulnerability gets a CVE identifier. An alert naming a CVE means a device or program runs a version with that known flaw.",
  },
  {
    term: "KEV",
    area: "cyber",
    short: "Known Exploited Vulnerabilities: CISA's list of flaws attackers are actively using.",
    long: "A vulnerability on the KEV list is being exploited in the wild, so a device with it needs attention first — including cameras, door controllers and alarm panels.",
  },
  {
    term: "Sigma",
    area: "cyber",
    short: "An open format for writing detection rules over log events.",
    long: "Sigma rules describe suspicious log patterns in YAML. Tocsin runs Sigma rules on every event; the rules page lets you test one against a sample event.",
  },
  {
    term: "SIEM",
    area: "cyber",
    short: "Security information and event management: a central system that collects and searches logs.",
    long: "Tocsin can forward alerts to a SIEM (over syslog/CEF) and receive events from the same sources.",
  },
  {
    term: "SOC",
    area: "operations",
    short: "Security operations centre: the team and room that watch alerts around the clock.",
    long: "The people who monitor, triage and respond. Wall mode is meant for the SOC's large screens.",
  },
  {
    term: "phishing",
    area: "cyber",
    short: "A deceptive e-mail or message that tries to steal passwords or install malware.",
    long: "Phishing often precedes an account takeover; a guard may see its physical follow-up (a visitor with a stolen badge).",
  },
  {
    term: "ransomware",
    area: "cyber",
    short: "Malware that encrypts files and demands payment to unlock them.",
    long: "Ransomware can stop building systems too (badge servers, video recorders) when they run on the same network.",
  },
  {
    term: "impossible travel",
    area: "cyber",
    short: "The same person appears in two places too far apart to travel between in the time.",
    long: "For example a badge-in in London and a VPN logon from Singapore ten minutes later: one of the two is probably not the person.",
  },
  {
    term: "dead letter",
    aliases: ["dead letters"],
    area: "operations",
    short: "A received record that could not be understood, kept with the reason instead of being lost.",
    long: "Nothing is dropped silently: a record that fails to parse or map is stored as a dead letter with its raw bytes and reason, listed on the organisation page.",
  },
  {
    term: "deduplication",
    aliases: ["dedup"],
    area: "operations",
    short: "Repeats of the same alert within a window are counted on one alert instead of raising many.",
    long: "An alert shows ×N when it fired N times inside its deduplication window.",
  },
  {
    term: "on-call",
    aliases: ["on call"],
    area: "operations",
    short: "The person of a team who must answer alerts now, following the team's rotation.",
    long: "Each team's rotation names who is on call at a given time; routes can notify the on-call person.",
  },
  {
    term: "disposition",
    area: "operations",
    short: "What an alert turned out to be: true positive, benign, false positive, duplicate or exercise.",
    long: "Recorded when acknowledging. The share of false positives and benign alerts per rule is its noise ratio.",
  },
  {
    term: "false positive",
    aliases: ["false_positive"],
    area: "operations",
    short: "An alert that fired although nothing of what it describes happened.",
    long: "Rules with many false positives are noisy; the rules page lists them so they can be tuned.",
  },
  {
    term: "forced door",
    aliases: ["door forced"],
    area: "physical",
    short: "A door opened without a valid badge or exit request: possibly a break-in.",
    long: "The door contact reports open while the controller granted no access. It can also be a faulty contact.",
  },
  {
    term: "held open",
    aliases: ["door held"],
    area: "physical",
    short: "A door stayed open longer than allowed after a valid access.",
    long: "Often someone propping a door; it makes tailgating easy.",
  },
  {
    term: "tamper",
    aliases: ["tampering"],
    area: "physical",
    short: "A device reports it was opened, covered, moved or cut (camera, reader, sensor).",
    long: "Tampering with a camera or reader often comes before a physical intrusion.",
  },
  {
    term: "CAP",
    area: "public",
    short: "Common Alerting Protocol: the standard format for public warnings (weather, civil protection).",
    long: "Tocsin reads CAP feeds as public signals and can also publish its own alerts as CAP.",
  },
  {
    term: "SLA",
    area: "operations",
    short: "Service level agreement: the time allowed to acknowledge and to resolve an incident.",
    long: "Each incident shows its acknowledge and resolve deadlines; a breached SLA is highlighted.",
  },
];

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const byWord = new Map<string, Term>();
for (const t of GLOSSARY) {
  for (const w of [t.term, ...(t.aliases ?? [])]) byWord.set(w.toLowerCase(), t);
}

/** Matches any glossary term or alias as a whole word; longest first so "SIA DC-09" wins. */
export const TERM_RE = new RegExp(
  `(?<![\\w-])(${[...byWord.keys()]
    .sort((a, b) => b.length - a.length)
    .map(escapeRe)
    .join("|")})(?![\\w-])`,
  "gi",
);

export function lookup(word: string): Term | undefined {
  return byWord.get(word.toLowerCase());
}

/** Splits text into plain pieces and glossary terms. */
export function splitTerms(text: string): (string | { word: string; term: Term })[] {
  const out: (string | { word: string; term: Term })[] = [];
  let last = 0;
  for (const m of text.matchAll(TERM_RE)) {
    const word = m[0];
    const term = lookup(word);
    const at = m.index ?? 0;
    // Acronyms match only in capitals, so "cap" or "kev" in ordinary words stays plain.
    if (!term || (term.term === term.term.toUpperCase() && word !== word.toUpperCase())) continue;
    if (at > last) out.push(text.slice(last, at));
    out.push({ word, term });
    last = at + word.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
