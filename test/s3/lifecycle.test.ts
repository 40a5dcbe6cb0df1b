import { describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { expirationHeader } from "../../src/s3/handlers/lifecycle.ts";
import { afterDays, dayMs, expiryOf, hasActions, prefixesToScan, uploadAbortOf, type LifecycleRule } from "../../src/s3/lifecycle.ts";
import { lifecycleFromXml, lifecycleXml } from "../../src/s3/lifecycle-xml.ts";
import { xmlDocument } from "../../src/s3/xml.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

let ids = 0;
const newId = () => `generated-${++ids}`;
const doc = (...rules: string[]) => `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${rules.join("")}</LifecycleConfiguration>`;
const parse = (...rules: string[]) => lifecycleFromXml(doc(...rules), newId);

function refusal(f: () => unknown): [string, string] {
  try {
    f();
  } catch (error) {
    if (error instanceof S3Error) return [error.code, error.message];
    throw error;
  }
  throw new Error("accepted");
}

const utc = (s: string) => Date.parse(s);

describe("lifecycle configuration documents", () => {
  test("every filter form and action is read, and written back in the form it was sent", () => {
    const rules = parse(
      "<Rule><ID>legacy</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule>",
      "<Rule><ID>empty</ID><Filter></Filter><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
      "<Rule><ID>tag</ID><Filter><Tag><Key>class</Key><Value>tmp</Value></Tag></Filter><Status>Enabled</Status><Expiration><Date>2026-01-01T00:00:00.000Z</Date></Expiration></Rule>",
      "<Rule><ID>and</ID><Filter><And><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>",
      "<Rule><Filter><ObjectSizeLessThan>4096</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
    );
    expect(rules.map((r) => r.id)).toEqual(["legacy", "empty", "tag", "and", `generated-${ids}`]);
    expect(rules[0]).toEqual({ id: "legacy", enabled: true, filter: { form: "rule-prefix", prefix: "logs/" }, expiration: { days: 7, dateMs: undefined, expiredObjectDeleteMarker: undefined } });
    expect(rules[1].enabled).toBe(false);
    expect(rules[1].abortIncompleteMultipartUploadDays).toBe(3);
    expect(rules[2].expiration?.dateMs).toBe(utc("2026-01-01T00:00:00Z"));
    expect(rules[3].filter).toEqual({ form: "and", prefix: "a/", tags: [["k", "v"]], sizeGreaterThanBytes: 10, sizeLessThanBytes: 100 });
    expect(rules[3].noncurrentVersionExpiration).toEqual({ noncurrentDays: 5, newerNoncurrentVersions: 2 });
    const written = xmlDocument(lifecycleXml(rules));
    expect(written).toContain("<Rule><ID>legacy</ID><Prefix>logs/</Prefix><Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule>");
    expect(written).toContain("<Filter></Filter>");
    expect(written).toContain("<Date>2026-01-01T00:00:00.000Z</Date>");
    expect(written).toContain("<Filter><And><Prefix>a/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter>");
    expect(lifecycleFromXml(written, newId)).toEqual(rules);
  });

  test("indentation between elements is read past (s3cmd indents); other text beside elements is refused", () => {
    const indented = doc("\n  <Rule>\n    <Filter>\n      <Prefix>logs/</Prefix>\n    </Filter>\n    <Status>Enabled</Status>\n    <Expiration>\n      <Days>3</Days>\n    </Expiration>\n  </Rule>\n");
    expect(lifecycleFromXml(indented, newId)[0]).toMatchObject({ filter: { form: "filter", prefix: "logs/" }, expiration: { days: 3 } });
    expect(refusal(() => parse("<Rule>text<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"))[0]).toBe("MalformedXML");
  });

  test("dates are midnights in UTC, with or without milliseconds", () => {
    const at = (date: string) => parse(`<Rule><Filter/><Status>Enabled</Status><Expiration><Date>${date}</Date></Expiration></Rule>`)[0].expiration?.dateMs;
    expect(at("2027-03-01T00:00:00Z")).toBe(utc("2027-03-01T00:00:00Z"));
    expect(at("2027-03-01T00:00:00.000Z")).toBe(utc("2027-03-01T00:00:00Z"));
    expect(at("2027-03-01T00:00:00+00:00")).toBe(utc("2027-03-01T00:00:00Z"));
    // s3cmd --expiry-date=2027-03-01 sends the date alone; an offset that comes to midnight UTC is midnight
    expect(at("2027-03-01")).toBe(utc("2027-03-01T00:00:00Z"));
    expect(at("2027-03-01T01:00:00+01:00")).toBe(utc("2027-03-01T00:00:00Z"));
  });

  const refusals: Array<[string, string, string | RegExp]> = [
    ["no Status", "<Rule><Filter/><Expiration><Days>1</Days></Expiration></Rule>", "MalformedXML"],
    ["a Status of another word", "<Rule><Filter/><Status>enabled</Status><Expiration><Days>1</Days></Expiration></Rule>", "MalformedXML"],
    ["both Prefix and Filter", "<Rule><Prefix>a</Prefix><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>", "MalformedXML"],
    ["neither Prefix nor Filter", "<Rule><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>", "MalformedXML"],
    ["two conditions outside And", "<Rule><Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>", "MalformedXML"],
    ["an And of one condition", "<Rule><Filter><And><Prefix>a</Prefix></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>", "MalformedXML"],
    ["Days and Date together", "<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2027-01-01T00:00:00Z</Date></Expiration></Rule>", "MalformedXML"],
    ["an empty Expiration", "<Rule><Filter/><Status>Enabled</Status><Expiration></Expiration></Rule>", "MalformedXML"],
    ["Days past an Integer", "<Rule><Filter/><Status>Enabled</Status><Expiration><Days>2147483648</Days></Expiration></Rule>", "MalformedXML"],
    ["Days that are not a number", "<Rule><Filter/><Status>Enabled</Status><Expiration><Days>1.5</Days></Expiration></Rule>", "MalformedXML"],
    ["an unknown element", "<Rule><Filter/><Status>Enabled</Status><Expire><Days>1</Days></Expire></Rule>", "MalformedXML"],
    ["a Date that is no date", "<Rule><Filter/><Status>Enabled</Status><Expiration><Date>2027-02-30T00:00:00Z</Date></Expiration></Rule>", "MalformedXML"],
    ["Days of 0", "<Rule><Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration></Rule>", "InvalidArgument: 'Days' for Expiration action must be a positive integer"],
    ["negative NoncurrentDays", "<Rule><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>-1</NoncurrentDays></NoncurrentVersionExpiration></Rule>", "InvalidArgument: 'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"],
    ["DaysAfterInitiation of 0", "<Rule><Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>", "InvalidArgument: 'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"],
    ["a Date that is not midnight", "<Rule><Filter/><Status>Enabled</Status><Expiration><Date>2027-01-01T12:00:00Z</Date></Expiration></Rule>", "InvalidArgument: 'Date' must be at midnight GMT"],
    ["no action", "<Rule><ID>x</ID><Filter/><Status>Enabled</Status></Rule>", "InvalidRequest: At least one action needs to be specified in a rule."],
    ["aborting uploads by tags", "<Rule><Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>", "InvalidRequest: AbortIncompleteMultipartUpload cannot be specified with Tags."],
    ["aborting uploads by size", "<Rule><Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>", "InvalidRequest: AbortIncompleteMultipartUpload cannot be specified with Object Size."],
    ["delete markers by tags", "<Rule><Filter><Tag><Key>a</Key><Value>b</Value></Tag></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>", "InvalidRequest"],
    ["a tag key twice in And", "<Rule><Filter><And><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>", "InvalidRequest: Duplicate Tag Keys are not allowed."],
    ["sizes that leave nothing between", "<Rule><Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>", "InvalidArgument"],
    ["an ID over 255 characters", `<Rule><ID>${"i".repeat(256)}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, "InvalidArgument"],
    ["a prefix over 1024 bytes", `<Rule><Filter><Prefix>${"é".repeat(513)}</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`, "InvalidRequest"],
    ["a transition (s3d has one storage class)", "<Rule><Filter/><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule>", "NotImplemented"],
    ["a noncurrent version transition", "<Rule><Filter/><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>30</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition></Rule>", "NotImplemented"],
  ];
  for (const [what, rule, expected] of refusals) {
    test(`refused: ${what}`, () => {
      const [code, message] = refusal(() => parse(rule));
      if (typeof expected === "string" && expected.includes(": ")) expect(`${code}: ${message}`).toBe(expected);
      else expect(code).toBe(expected as string);
    });
  }

  test("refused: duplicate IDs, no rules, too many rules, another root", () => {
    const rule = (id: string) => `<Rule><ID>${id}</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`;
    expect(refusal(() => parse(rule("a"), rule("a")))).toEqual(["InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule"]);
    expect(refusal(() => parse())[0]).toBe("MalformedXML");
    expect(refusal(() => parse(...Array.from({ length: 1001 }, (_, i) => rule(`r${i}`))))[0]).toBe("InvalidRequest");
    expect(parse(...Array.from({ length: 1000 }, (_, i) => rule(`r${i}`))).length).toBe(1000);
    expect(refusal(() => lifecycleFromXml("<CORSConfiguration/>", newId))[0]).toBe("MalformedXML");
  });

  test("fuzz: damaged documents are refused with an S3 error, never a crash", () => {
    const rand = fuzzRandom(71);
    const base = doc(
      "<Rule><ID>a</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>",
      "<Rule><Prefix>q</Prefix><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>",
    );
    const pieces = ["<", ">", "/", "<Filter>", "</And>", "<Days>", "-", "0", "9", "&amp;", "<Tag>", "Enabled", "<Date>2027-01-01T00:00:00Z</Date>", ""];
    for (let i = 0; i < fuzzIterations(3000); i++) {
      let text = base;
      for (let edits = 1 + Math.floor(rand() * 3); edits > 0; edits--) {
        const at = Math.floor(rand() * text.length);
        const cut = Math.floor(rand() * 6);
        text = text.slice(0, at) + pieces[Math.floor(rand() * pieces.length)] + text.slice(at + cut);
      }
      try {
        const rules = lifecycleFromXml(text, newId);
        // what is accepted is written back as a document that reads the same
        expect(lifecycleFromXml(xmlDocument(lifecycleXml(rules)), newId)).toEqual(rules);
      } catch (error) {
        if (!(error instanceof S3Error)) throw new Error(`${String(error)} for ${text}`);
      }
    }
  });
});

describe("what the rules decide", () => {
  const rule = (r: Partial<LifecycleRule>): LifecycleRule => ({ id: "r", enabled: true, filter: { form: "filter" }, ...r });

  test("days are counted from the object's time and rounded up to the next midnight UTC", () => {
    expect(afterDays(utc("2014-01-15T10:30:00Z"), 3)).toBe(utc("2014-01-19T00:00:00Z"));
    expect(afterDays(utc("2014-01-15T00:00:00Z"), 1)).toBe(utc("2014-01-17T00:00:00Z"));
    expect(afterDays(utc("2014-01-15T23:59:59.999Z"), 1)).toBe(utc("2014-01-17T00:00:00Z"));
  });

  test("the rule that expires an object first names its expiry; disabled rules and other prefixes do not count", () => {
    const rules = [
      rule({ id: "month", expiration: { days: 30 } }),
      rule({ id: "week-logs", filter: { form: "rule-prefix", prefix: "logs/" }, expiration: { days: 7 } }),
      rule({ id: "off", enabled: false, expiration: { days: 1 } }),
      rule({ id: "markers", expiration: { expiredObjectDeleteMarker: true } }),
    ];
    const made = utc("2026-12-06T10:00:00Z");
    expect(expiryOf(rules, { key: "logs/a", sizeBytes: 1, lastModifiedMs: made })).toEqual({ atMs: utc("2026-12-14T00:00:00Z"), ruleId: "week-logs" });
    expect(expiryOf(rules, { key: "data/a", sizeBytes: 1, lastModifiedMs: made })).toEqual({ atMs: utc("2027-01-06T00:00:00Z"), ruleId: "month" });
    expect(expiryOf([rules[2], rules[3]], { key: "x", sizeBytes: 1, lastModifiedMs: made })).toBeUndefined();
  });

  test("a date expires every matching object, older or newer; sizes are strict bounds", () => {
    const rules = [rule({ id: "d", filter: { form: "and", tags: [], sizeGreaterThanBytes: 10, sizeLessThanBytes: 20 }, expiration: { dateMs: utc("2026-01-01T00:00:00Z") } })];
    const at = (sizeBytes: number, lastModifiedMs = utc("2027-05-01T00:00:00Z")) => expiryOf(rules, { key: "k", sizeBytes, lastModifiedMs });
    expect(at(15)).toEqual({ atMs: utc("2026-01-01T00:00:00Z"), ruleId: "d" });
    expect([at(10), at(20), at(9), at(21)]).toEqual([undefined, undefined, undefined, undefined]);
  });

  test("tag conditions need the object's tags: every tag of the rule, with its value", () => {
    const rules = [rule({ filter: { form: "and", prefix: "t/", tags: [["a", "1"], ["b", "2"]] }, expiration: { days: 1 } })];
    const subject = { key: "t/x", sizeBytes: 1, lastModifiedMs: 0 };
    expect(expiryOf(rules, subject)).toBe("unknown");
    expect(expiryOf(rules, { ...subject, tags: { a: "1", b: "2", c: "3" } })).toEqual({ atMs: 2 * dayMs, ruleId: "r" });
    expect(expiryOf(rules, { ...subject, tags: { a: "1", b: "3" } })).toBeUndefined();
    expect(expiryOf(rules, { ...subject, key: "u/x" })).toBeUndefined();
  });

  test("uploads are aborted by the first rule to reach them; hasActions tells rules that act", () => {
    const rules = [
      rule({ id: "slow", abortIncompleteMultipartUploadDays: 10 }),
      rule({ id: "tmp", filter: { form: "filter", prefix: "tmp/" }, abortIncompleteMultipartUploadDays: 1 }),
    ];
    expect(uploadAbortOf(rules, "tmp/x", 0)).toEqual({ atMs: 2 * dayMs, ruleId: "tmp" });
    expect(uploadAbortOf(rules, "x", 0)).toEqual({ atMs: 11 * dayMs, ruleId: "slow" });
    expect(uploadAbortOf([rule({ enabled: false, abortIncompleteMultipartUploadDays: 1 })], "x", 0)).toBeUndefined();
    expect(hasActions(rules)).toBe(true);
    expect(hasActions([rule({ expiration: { expiredObjectDeleteMarker: true } })])).toBe(true);
    expect(hasActions([rule({ noncurrentVersionExpiration: { noncurrentDays: 1 } })])).toBe(true);
    expect(hasActions([rule({ enabled: false, noncurrentVersionExpiration: { noncurrentDays: 1 } })])).toBe(false);
  });

  test("a scan lists only the prefixes that rules acting on objects (or uploads) name, none inside another", () => {
    const rules = [
      rule({ filter: { form: "rule-prefix", prefix: "logs/2026/" }, expiration: { days: 1 } }),
      rule({ filter: { form: "filter", prefix: "logs/" }, expiration: { days: 9 } }),
      rule({ filter: { form: "and", prefix: "tmp/", tags: [["a", "b"]] }, expiration: { dateMs: 0 } }),
      rule({ enabled: false, filter: { form: "filter", prefix: "off/" }, expiration: { days: 1 } }),
      rule({ filter: { form: "filter", prefix: "uploads/" }, abortIncompleteMultipartUploadDays: 1 }),
    ];
    expect(prefixesToScan(rules, "objects")).toEqual(["logs/", "tmp/"]);
    expect(prefixesToScan(rules, "uploads")).toEqual(["uploads/"]);
    expect(prefixesToScan([...rules, rule({ expiration: { days: 5 } })], "objects")).toEqual([""]);
  });

  test("days past what a date can hold never expire (no 'Invalid Date' in a header); years under 100 are read as written", () => {
    const far = [rule({ expiration: { days: 2_147_483_647 }, abortIncompleteMultipartUploadDays: 2_147_483_647 })];
    expect(expiryOf(far, { key: "k", sizeBytes: 1, lastModifiedMs: 0 })).toBeUndefined();
    expect(uploadAbortOf(far, "k", 0)).toBeUndefined();
    const at = parse("<Rule><Filter/><Status>Enabled</Status><Expiration><Date>0099-01-01T00:00:00Z</Date></Expiration></Rule>")[0].expiration?.dateMs;
    expect(new Date(at as number).getUTCFullYear()).toBe(99);
  });

  test("a tagless rule that expires an object before any rule with tags could decides without the tags", () => {
    const rules = [rule({ id: "soon", expiration: { days: 1 } }), rule({ id: "tagged", filter: { form: "filter", tag: ["a", "b"] }, expiration: { days: 9 } })];
    expect(expiryOf(rules, { key: "k", sizeBytes: 1, lastModifiedMs: 0 })).toEqual({ atMs: 2 * dayMs, ruleId: "soon" });
    expect(expiryOf([rules[1], rule({ id: "late", expiration: { days: 30 } })], { key: "k", sizeBytes: 1, lastModifiedMs: 0 })).toBe("unknown");
  });

  test("x-amz-expiration: an HTTP date and the rule's ID, URL-encoded", () => {
    expect(expirationHeader({ atMs: utc("2012-12-23T00:00:00Z"), ruleId: "picture deletion/é" })).toBe('expiry-date="Sun, 23 Dec 2012 00:00:00 GMT", rule-id="picture%20deletion%2F%C3%A9"');
  });
});
