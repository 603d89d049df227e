// fhirclient (smart-on-fhir/client-js) through read, search with paging, create, update, patch and transaction: the
// SMART client a Node app gets from `smart(request, response).client(state)`, here with a state holding the token.
import smart from "fhirclient";
import { PAGED, base, family, report, token, transaction } from "./common.mjs";

// The Node adapter reads the app's own HTTP request and response (for its session): this script serves none.
const client = smart({ headers: {}, url: "/" }, {}).client({ serverUrl: base, tokenResponse: { access_token: token } });
const patient = (suffix) => ({ resourceType: "Patient", name: [{ family: `${family}-${suffix}` }] });
let made;

await report({
  create: async () => {
    made = await client.create({ ...patient("read"), gender: "female" });
    return { id: made.id, versionId: made.meta.versionId };
  },
  read: async () => {
    const read = await client.request(`Patient/${made.id}`);
    return { id: read.id, gender: read.gender };
  },
  search: async () => {
    for (let i = 0; i < PAGED; i++) await client.create(patient("paged"));
    const pages = await client.request(`Patient?family=${family}-paged&_count=2`, { pageLimit: 0 });
    const counted = await client.request(`Patient?family=${family}-paged&_summary=count`);
    return { pages: pages.map((page) => (page.entry || []).length), total: counted.total };
  },
  update: async () => {
    const updated = await client.update({ ...made, birthDate: "1980-05-06" });
    return { versionId: updated.meta.versionId, birthDate: updated.birthDate };
  },
  patch: async () => {
    const patched = await client.patch(`Patient/${made.id}`, [{ op: "add", path: "/active", value: true }]);
    return { versionId: patched.meta.versionId, active: patched.active };
  },
  transaction: async () => {
    const answer = await client.request({
      url: "",
      method: "POST",
      body: JSON.stringify(transaction()),
      headers: { "Content-Type": "application/fhir+json" },
    });
    return { type: answer.type, statuses: answer.entry.map((entry) => entry.response.status) };
  },
});
