// The part of ua-parser-js 1.x (MIT; it ships no types) that lib/device.ts uses.
declare module "ua-parser-js" {
  interface Named {
    name?: string;
    version?: string;
  }
  export interface UAResult {
    browser: Named;
    os: Named;
    device: { model?: string; vendor?: string; type?: string };
  }
  export class UAParser {
    constructor(userAgent?: string);
    getResult(): UAResult;
  }
}
