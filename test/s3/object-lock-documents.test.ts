/** Object Lock's documents, headers and rules (pure): what is read, what is refused and with which code. */
import { describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import type { ObjectLock } from "../../src/store/backend.ts";
import { changedLock, checkRemovable, lockOfNewVersion } from "../../src/store/locks.ts";
import {
  legalHoldFromXml,
  lockFromHeaders,
  lockHeaders,
  objectLockConfigFromXml,
  objectLockConfigXml,
  retentionFromXml,
} from "../../src/s3/object-lock.ts";
import { xmlDocument } from "../../src/s3/xml.ts";
import { fuzzIterations, fuzzRandom, mutated } from "../support/fuzz.ts";
import { refusalCode } from "../support/refusal.ts";

const ns = `xmlns="http://s3.amazonaws.com/doc/2006-03-01/"`;
const config = (inner: string) => `<ObjectLockConfiguration ${ns}>${inner}</ObjectLockConfiguration>`;
const rule = (retention: string) => config(`<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>${retention}</DefaultRetention></Rule>`);
const now = Date.parse("2026-12-07T12:00:00Z");
const later = "2027-01-01T00:00:00.000Z";

describe("ObjectLockConfiguration", () => {
  test("enabled alone, or with a default retention of days or years; written back as read", () => {
    expect(objectLockConfigFromXml(config("<ObjectLockEnabled>Enabled</ObjectLockEnabled>"))).toBeUndefined();
    expect(objectLockConfigFromXml(rule("<Mode>GOVERNANCE</Mode><Days>30</Days>"))).toEqual({ mode: "GOVERNANCE", days: 30 });
    const years = objectLockConfigFromXml(rule("<Years>7</Years><Mode>COMPLIANCE</Mode>"))!;
    expect(years).toEqual({ mode: "COMPLIANCE", years: 7 });
    expect(objectLockConfigFromXml(xmlDocument(objectLockConfigXml(years)))).toEqual(years);
    expect(xmlDocument(objectLockConfigXml(undefined))).toContain("<ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>");
  });

  test("refused as S3 refuses it", () => {
    const code = (text: string) => refusalCode(() => objectLockConfigFromXml(text));
    for (const text of [
      config(""),
      config("<ObjectLockEnabled>Disabled</ObjectLockEnabled>"),
      config("<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule></Rule>"),
      rule(""),
      rule("<Mode>GOVERNANCE</Mode>"),
      rule("<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>"),
      rule("<Mode>governance</Mode><Days>1</Days>"),
      rule("<Mode>GOVERNANCE</Mode><Days>ten</Days>"),
      rule("<Mode>GOVERNANCE</Mode><Days>1</Days><Extra/>"),
      "<LegalHold/>",
    ]) {
      expect(`${text} ${code(text)}`).toBe(`${text} MalformedXML`);
    }
    for (const period of ["<Days>0</Days>", "<Days>-3</Days>", "<Years>0</Years>", "<Days>36501</Days>", "<Years>101</Years>"]) {
      expect(code(rule(`<Mode>COMPLIANCE</Mode>${period}`))).toBe("InvalidArgument");
    }
  });

  test("property: any mutation of a configuration is read or refused with MalformedXML or InvalidArgument, never another failure", () => {
    const rand = fuzzRandom(1207);
    const valid = rule("<Mode>GOVERNANCE</Mode><Days>30</Days>");
    const pieces = ["<", ">", "/", "Days", "Years", "<Days>", "</Days>", "1", "-", "COMPLIANCE", "&amp;", "&#0;", " ", "<![CDATA[5]]>", "<!--x-->"];
    for (let i = 0; i < fuzzIterations(3000); i++) {
      const text = mutated(valid, rand, pieces);
      try {
        const retention = objectLockConfigFromXml(text);
        if (retention !== undefined) {
          expect(["GOVERNANCE", "COMPLIANCE"]).toContain(retention.mode);
          expect((retention.days ?? retention.years)! > 0).toBe(true);
        }
      } catch (error) {
        expect(error).toBeInstanceOf(S3Error);
        expect(["MalformedXML", "InvalidArgument"]).toContain((error as S3Error).code);
      }
    }
  });

  test("a default retention runs from the new version's making (days of 24 hours, years of 365 days), where its write asked for no retention", () => {
    expect(lockOfNewVersion(undefined, { defaultRetention: { mode: "GOVERNANCE", days: 2 } }, now)).toEqual({ mode: "GOVERNANCE", retainUntilMs: now + 2 * 86_400_000 });
    expect(lockOfNewVersion({ legalHold: true }, { defaultRetention: { mode: "COMPLIANCE", years: 1 } }, now)).toEqual({ legalHold: true, mode: "COMPLIANCE", retainUntilMs: now + 365 * 86_400_000 });
    const own = { mode: "GOVERNANCE" as const, retainUntilMs: now + 5 };
    expect(lockOfNewVersion(own, { defaultRetention: { mode: "COMPLIANCE", days: 1 } }, now)).toBe(own);
    expect(lockOfNewVersion(undefined, {}, now)).toBeUndefined();
    expect(lockOfNewVersion(undefined, undefined, now)).toBeUndefined();
    // a bucket without Object Lock (one made again without it while the write was on its way) takes no lock
    expect(refusalCode(() => lockOfNewVersion({ legalHold: true }, undefined, now))).toBe("InvalidRequest");
  });
});

describe("the x-amz-object-lock-* headers", () => {
  test("a mode with a future date, a legal hold, both, or none", () => {
    expect(lockFromHeaders({}, now)).toBeUndefined();
    expect(lockFromHeaders({ "x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": later }, now)).toEqual({ mode: "COMPLIANCE", retainUntilMs: Date.parse(later) });
    expect(lockFromHeaders({ "x-amz-object-lock-legal-hold": "OFF" }, now)).toEqual({ legalHold: false });
    const lock = lockFromHeaders({ "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2027-01-01T01:00:00+01:00", "x-amz-object-lock-legal-hold": "ON" }, now)!;
    expect(lock).toEqual({ mode: "GOVERNANCE", retainUntilMs: Date.parse(later), legalHold: true });
    expect(lockHeaders(lock)).toEqual({ "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": later, "x-amz-object-lock-legal-hold": "ON" });
    expect(lockHeaders({ legalHold: false })).toEqual({ "x-amz-object-lock-legal-hold": "OFF" });
    expect(lockHeaders(undefined)).toEqual({});
  });

  test("refused with InvalidArgument: half a retention, an unknown mode, a date not ISO 8601 or not in the future, a hold not ON or OFF", () => {
    const code = (headers: Record<string, string>) => refusalCode(() => lockFromHeaders(headers, now));
    const refusedHeaders: Record<string, string>[] = [
      { "x-amz-object-lock-mode": "GOVERNANCE" },
      { "x-amz-object-lock-retain-until-date": later },
      { "x-amz-object-lock-mode": "LOCKED", "x-amz-object-lock-retain-until-date": later },
      { "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "next year" },
      { "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2027-01-01" },
      { "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2099-02-31T00:00:00Z" },
      { "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00" },
      { "x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": "2020-01-01T00:00:00Z" },
      { "x-amz-object-lock-legal-hold": "on" },
    ];
    for (const headers of refusedHeaders) {
      expect(`${JSON.stringify(headers)} ${code(headers)}`).toBe(`${JSON.stringify(headers)} InvalidArgument`);
    }
  });
});

describe("Retention and LegalHold documents", () => {
  test("a retention, or an empty one (removal); a legal hold ON or OFF", () => {
    expect(retentionFromXml(`<Retention ${ns}><Mode>GOVERNANCE</Mode><RetainUntilDate>${later}</RetainUntilDate></Retention>`, now)).toEqual({ mode: "GOVERNANCE", retainUntilMs: Date.parse(later) });
    expect(retentionFromXml(`<Retention ${ns}/>`, now)).toEqual({});
    expect(legalHoldFromXml(`<LegalHold ${ns}><Status>ON</Status></LegalHold>`)).toBe(true);
    expect(legalHoldFromXml(`<LegalHold><Status>OFF</Status></LegalHold>`)).toBe(false);
    for (const text of [`<Retention><Mode>GOVERNANCE</Mode></Retention>`, `<Retention><Mode>X</Mode><RetainUntilDate>${later}</RetainUntilDate></Retention>`, `<LegalHold><Status>YES</Status></LegalHold>`, `<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>soon</RetainUntilDate></Retention>`]) {
      expect(refusalCode(() => (text.startsWith("<Retention") ? retentionFromXml(text, now) : legalHoldFromXml(text)))).toBe("MalformedXML");
    }
    expect(refusalCode(() => retentionFromXml(`<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2020-01-01T00:00:00Z</RetainUntilDate></Retention>`, now))).toBe("InvalidArgument");
  });
});

describe("the rules", () => {
  const until = now + 1000;
  const governance: ObjectLock = { mode: "GOVERNANCE", retainUntilMs: until };
  const compliance: ObjectLock = { mode: "COMPLIANCE", retainUntilMs: until };

  test("a retention that holds is only extended in its mode, or changed with a bypass when GOVERNANCE; one that has passed may become anything", () => {
    const change = (current: ObjectLock, next: ObjectLock, bypass = false, at = now) => refusalCode(() => changedLock(current, { retention: next }, at, bypass));
    expect(change(governance, { mode: "GOVERNANCE", retainUntilMs: until + 1 })).toBeUndefined();
    expect(change(compliance, { mode: "COMPLIANCE", retainUntilMs: until })).toBeUndefined();
    expect(change(governance, { mode: "GOVERNANCE", retainUntilMs: until - 1 })).toBe("AccessDenied");
    expect(change(governance, {})).toBe("AccessDenied");
    expect(change(governance, { mode: "COMPLIANCE", retainUntilMs: until + 1 })).toBe("AccessDenied");
    expect(change(governance, {}, true)).toBeUndefined();
    expect(change(compliance, { mode: "COMPLIANCE", retainUntilMs: until - 1 }, true)).toBe("AccessDenied");
    expect(change(compliance, { mode: "GOVERNANCE", retainUntilMs: until + 1 }, true)).toBe("AccessDenied");
    expect(change(compliance, {}, false, until)).toBeUndefined();
    expect(change({}, { mode: "COMPLIANCE", retainUntilMs: until })).toBeUndefined();
  });

  test("a version may be removed unless held, or retained by COMPLIANCE, or by GOVERNANCE without a bypass", () => {
    const remove = (lock: ObjectLock | undefined, bypass = false, at = now) => refusalCode(() => checkRemovable(lock, at, bypass));
    expect(remove(undefined)).toBeUndefined();
    expect(remove({ legalHold: false })).toBeUndefined();
    expect(remove({ legalHold: true }, true)).toBe("AccessDenied");
    expect(remove(compliance, true)).toBe("AccessDenied");
    expect(remove(governance)).toBe("AccessDenied");
    expect(remove(governance, true)).toBeUndefined();
    expect(remove(compliance, false, until)).toBeUndefined();
  });
});
