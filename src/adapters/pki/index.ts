export { CA_CERT, CA_KEY, MAX_CSR_BYTES, checkCsr, initCa, issueCert, makeCsr, newKey, readCaCert, signCsr, writeKey, type CaInitOptions, type IssueOptions } from './ca.js';
export { groupId, joinLeader, type JoinOptions, type JoinResult } from './join-client.js';
export { CERT_NAME, checkName, parseSans, type San } from './names.js';
export { openssl } from './openssl.js';
export { JoinTokens, TOKENS_FILE, hashToken, type TokenCheck, type TokenEntry, type TokenRefusal } from './tokens.js';
