/** Injection tokens shared by the services. */
export const GRACE_STORE = Symbol('GRACE_STORE');
export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');
export const READ_TOKEN = Symbol('READ_TOKEN');
export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');
