Console.WriteLine("archlab: commands coming");
